-- The telephony indicator's parts per run month and care unit (SPEC §5): counted calls
-- handled the same day over counted calls. Calls carry no sex: sex is null, which only
-- reaches `all`.
with calls as (
    select * from {{ ref('accessibility__int_calls_classified') }}
),

final as (
    select
        month,
        care_unit_hsa_id as vardcentral_hsa_id,
        'phone_same_day_share' as indicator_code,
        cast(null as varchar) as sex,
        'all' as profession,
        cast(count(*) filter (where is_handled_same_day) as double) as numerator,
        cast(count(*) as bigint) as denominator
    from calls
    where is_counted
    group by all
)

select * from final
