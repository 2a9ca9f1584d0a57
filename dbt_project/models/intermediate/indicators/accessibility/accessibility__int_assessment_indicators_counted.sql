-- The medical-assessment indicators' parts per run month, care unit, sex and profession
-- (SPEC §5): first assessments within 0, 3 and 7 days of first contact over all first
-- assessments, per profession and for profession `all`.
with assessments as (
    select * from {{ ref('accessibility__int_first_assessments_selected') }}
),

thresholds (indicator_code, max_wait_days) as (
    values ('assessment_0d_share', 0), ('assessment_3d_share', 3), ('assessment_7d_share', 7)
),

counted as (
    select
        assessments.month,
        assessments.care_unit_hsa_id as vardcentral_hsa_id,
        thresholds.indicator_code,
        assessments.sex,
        coalesce(assessments.profession, 'all') as profession,
        count(*) filter (where assessments.wait_days <= thresholds.max_wait_days) as numerator,
        count(*) as denominator
    from assessments
    cross join thresholds
    -- rollup: the rows per profession, and the row over all professions (profession `all`)
    group by
        assessments.month,
        assessments.care_unit_hsa_id,
        thresholds.indicator_code,
        assessments.sex,
        rollup(assessments.profession)
),

final as (
    select
        month,
        vardcentral_hsa_id,
        indicator_code,
        sex,
        profession,
        cast(numerator as double) as numerator,
        cast(denominator as bigint) as denominator
    from counted
)

select * from final
