-- The computed parts of every indicator, long and sparse: one row per run month, VC,
-- indicator code, sex (female, male, or null when unknown: reserve numbers, and calls) and
-- profession (`all`, or the profession for the assessment split) where there is something
-- to count. numerator / denominator are additive, so the mart can sum them into sex `all`
-- and into the REGION row. Continuity: numerator = Σ person COC, denominator = persons
-- with N >= 2. listed_per_named_gp: numerator = listed with a named GP, denominator = distinct
-- named GPs among them; distinct GPs do not add up over sexes, so its rows for sex `all` are
-- computed here too (the mart takes them as they are). Zero rows, open VCs without data and
-- nulls are filled in the mart.
with persons as (
    select * from {{ ref('listing__int_persons_listed') }}
),

ended as (
    select * from {{ ref('listing__int_listings_ended') }}
),

relistings as (
    select * from {{ ref('listing__int_relistings_counted') }}
),

contacts as (
    select * from {{ ref('contacts__int_contacts_attributed') }}
),

coverage as (
    select * from {{ ref('contacts__int_coverage_persons_counted') }}
),

assessments as (
    select * from {{ ref('accessibility__int_first_assessments_selected') }}
),

calls as (
    select * from {{ ref('accessibility__int_calls_classified') }}
),

continuity as (
    select * from {{ ref('continuity__int_persons_coc_computed') }}
),

listing_by_sex as (
    select
        month,
        vardcentral_hsa_id,
        sex,
        count(*) as listed_count,
        count(*) filter (where is_new_listing) as new_listings,
        count(*) filter (where is_cap_breach) as cap_breach_listings,
        count(*) filter (where has_fast_lakare) as fast_lakare_count,
        count(*) filter (where is_sabo) as sabo_count,
        count(*) filter (where is_sabo and has_fast_lakare) as sabo_fast_lakare_count
    from persons
    group by all
),

listing_indicators as (
    select month, vardcentral_hsa_id, 'listed_count' as indicator_code, sex,
        listed_count as numerator, null as denominator
    from listing_by_sex
    union all
    select month, vardcentral_hsa_id, 'new_listings', sex, new_listings, null
    from listing_by_sex
    union all
    select month, vardcentral_hsa_id, 'cap_breach_listings', sex, cap_breach_listings, null
    from listing_by_sex
    union all
    select month, vardcentral_hsa_id, 'fast_lakare_share', sex, fast_lakare_count, listed_count
    from listing_by_sex
    union all
    select month, vardcentral_hsa_id, 'fast_lakare_share_sabo', sex, sabo_fast_lakare_count, sabo_count
    from listing_by_sex
    union all
    select month, vardcentral_hsa_id, 'ended_listings', sex, count(*), null
    from ended
    group by all
    union all
    select month, vardcentral_hsa_id, 'relisting_over_limit', sex, count(*), null
    from relistings
    where change_count > 2
    group by all
    union all
    select month, vardcentral_hsa_id, 'listed_per_named_gp', case when grouping(sex) = 1 then 'all' else sex end,
        count(*), count(distinct fast_lakare_hsa_id)
    from persons
    where has_fast_lakare
    group by grouping sets ((month, vardcentral_hsa_id, sex), (month, vardcentral_hsa_id))
),

performing_contact_indicators as (
    select
        month,
        care_unit_hsa_id as vardcentral_hsa_id,
        sex,
        count(*) filter (where contact_type in ('telefon', 'video', 'chatt')) as distance_count,
        count(*) filter (where contact_type = 'video') as video_count,
        count(*) as contact_count
    from contacts
    group by all
),

contact_indicators as (
    select month, vardcentral_hsa_id, 'distance_contact_share' as indicator_code, sex,
        distance_count as numerator, contact_count as denominator
    from performing_contact_indicators
    union all
    select month, vardcentral_hsa_id, 'video_contact_share', sex, video_count, contact_count
    from performing_contact_indicators
    union all
    select
        month,
        listing_vardcentral_hsa_id,
        'visits_elsewhere',
        sex,
        count(*) filter (where care_unit_hsa_id <> listing_vardcentral_hsa_id),
        count(*)
    from contacts
    where contact_type = 'besok' and listing_vardcentral_hsa_id is not null
    group by all
    union all
    select month, vardcentral_hsa_id, 'coverage_ratio', sex, sum(contacts_here), sum(contacts_any)
    from coverage
    group by all
),

assessment_thresholds(indicator_code, max_wait_days) as (
    values ('assessment_0d_share', 0), ('assessment_3d_share', 3), ('assessment_7d_share', 7)
),

assessment_indicators as (
    select
        assessments.month,
        assessments.care_unit_hsa_id as vardcentral_hsa_id,
        assessment_thresholds.indicator_code,
        assessments.sex,
        coalesce(assessments.profession, 'all') as profession,
        count(*) filter (where assessments.wait_days <= assessment_thresholds.max_wait_days) as numerator,
        count(*) as denominator
    from assessments
    cross join assessment_thresholds
    group by grouping sets (
        (assessments.month, assessments.care_unit_hsa_id, assessment_thresholds.indicator_code,
            assessments.sex, assessments.profession),
        (assessments.month, assessments.care_unit_hsa_id, assessment_thresholds.indicator_code,
            assessments.sex)
    )
),

phone_indicators as (
    select
        month,
        care_unit_hsa_id as vardcentral_hsa_id,
        'phone_same_day_share' as indicator_code,
        cast(null as varchar) as sex,
        count(*) filter (where is_handled_same_day) as numerator,
        count(*) as denominator
    from calls
    where is_counted
    group by all
),

continuity_indicators as (
    select month, vardcentral_hsa_id, 'continuity_all' as indicator_code, sex,
        {{ exact_sum('coc_all') }} as numerator, count(coc_all) as denominator
    from continuity
    group by all
    union all
    select month, vardcentral_hsa_id, 'continuity_doctor', sex, {{ exact_sum('coc_doctor') }}, count(coc_doctor)
    from continuity
    group by all
    union all
    select month, vardcentral_hsa_id, 'continuity_doctor_sabo', sex, {{ exact_sum('coc_doctor') }}, count(coc_doctor)
    from continuity
    where is_sabo
    group by all
    union all
    select month, vardcentral_hsa_id, 'continuity_all_sabo', sex, {{ exact_sum('coc_all') }}, count(coc_all)
    from continuity
    where is_sabo
    group by all
),

unioned as (
    select month, vardcentral_hsa_id, indicator_code, sex, 'all' as profession,
        cast(numerator as double) as numerator, cast(denominator as bigint) as denominator
    from listing_indicators
    union all
    select month, vardcentral_hsa_id, indicator_code, sex, 'all',
        cast(numerator as double), cast(denominator as bigint)
    from contact_indicators
    union all
    select month, vardcentral_hsa_id, indicator_code, sex, profession,
        cast(numerator as double), cast(denominator as bigint)
    from assessment_indicators
    union all
    select month, vardcentral_hsa_id, indicator_code, sex, 'all',
        cast(numerator as double), cast(denominator as bigint)
    from phone_indicators
    union all
    select month, vardcentral_hsa_id, indicator_code, sex, 'all',
        cast(numerator as double), cast(denominator as bigint)
    from continuity_indicators
)

select * from unioned
