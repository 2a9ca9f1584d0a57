-- The continuity indicators' parts per run month, listing VC and sex (SPEC §5): numerator =
-- Σ person COC, denominator = persons with a COC (N >= 2), over all caregivers and over
-- doctors, for all listed persons and for SÄBO residents.
with continuity as (
    select * from {{ ref('continuity__int_persons_coc_computed') }}
),

unioned as (
    select
        month,
        vardcentral_hsa_id,
        'continuity_all' as indicator_code,
        sex,
        {{ exact_sum('coc_all') }} as numerator,
        count(coc_all) as denominator
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

final as (
    select
        month,
        vardcentral_hsa_id,
        indicator_code,
        sex,
        'all' as profession,
        cast(numerator as double) as numerator,
        cast(denominator as bigint) as denominator
    from unioned
)

select * from final
