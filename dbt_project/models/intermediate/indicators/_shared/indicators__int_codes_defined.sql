-- The indicator catalogue of SPEC §5: one row per indicator code with how it is
-- computed and split. value_kind: count (numerator = value, no denominator),
-- share (numerator / denominator), mean (continuity: Σ person COC / persons) or ratio
-- (numerator / denominator, not in [0, 1], never suppressed; its denominator does not add up
-- over sexes, so the computed rows carry their own sex `all`).
-- window_kind names the window whose presence fills window_months (null: none).
with codes(indicator_code, unit_basis, value_kind, window_kind, is_split_by_sex, is_split_by_profession, sort_order) as (
    values
        ('listed_count',           'listing',    'count', null,         true,  false,  1),
        ('new_listings',           'listing',    'count', null,         true,  false,  2),
        ('ended_listings',         'listing',    'count', 'ended',      true,  false,  3),
        ('relisting_over_limit',   'listing',    'count', 'relisting',  true,  false,  4),
        ('cap_breach_listings',    'listing',    'count', null,         true,  false,  5),
        ('fast_lakare_share',      'listing',    'share', null,         true,  false,  6),
        ('fast_lakare_share_sabo', 'listing',    'share', null,         true,  false,  7),
        ('distance_contact_share', 'performing', 'share', null,         true,  false,  8),
        ('video_contact_share',    'performing', 'share', null,         true,  false,  9),
        ('visits_elsewhere',       'listing',    'share', null,         true,  false, 10),
        ('coverage_ratio',         'listing',    'share', 'coverage',   true,  false, 11),
        ('assessment_0d_share',    'performing', 'share', null,         true,  true,  12),
        ('assessment_3d_share',    'performing', 'share', null,         true,  true,  13),
        ('assessment_7d_share',    'performing', 'share', null,         true,  true,  14),
        ('phone_same_day_share',   'performing', 'share', null,         false, false, 15),
        ('continuity_doctor',      'listing',    'mean',  'continuity', true,  false, 16),
        ('continuity_all',         'listing',    'mean',  'continuity', true,  false, 17),
        ('continuity_doctor_sabo', 'listing',    'mean',  'continuity', true,  false, 18),
        ('continuity_all_sabo',    'listing',    'mean',  'continuity', true,  false, 19),
        ('listed_per_named_gp',    'listing',    'ratio', null,         true,  false, 20)
)

select * from codes
