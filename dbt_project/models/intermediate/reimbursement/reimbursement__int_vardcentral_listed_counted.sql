-- Step 7b. Listed persons per VC and month, straight from the listed person-months (no
-- reference joins), for the goal payment and the development-grant split.
-- Grain: month, vardcentral_hsa_id (VCs with listed persons).
with persons as (
    select * from {{ ref('shared__int_person_months_listed') }}
),

final as (
    select
        month,
        vardcentral_hsa_id,
        count(*) as listed_count
    from persons
    group by month, vardcentral_hsa_id
)

select * from final
