-- Step 7. The VC's CNI per month: the mean of its listed persons' area CNI, an unknown area
-- counting as 1.0 (SPEC §6). Grain: month, vardcentral_hsa_id (VCs with listed persons).
with persons as (
    select * from {{ ref('reimbursement__int_person_factors_joined') }}
),

final as (
    select
        month,
        vardcentral_hsa_id,
        count(*) as listed_count,
        {{ exact_avg('coalesce(area_cni, 1.0)') }} as vardcentral_cni,
        count(*) filter (where not has_area_cni) as unknown_area_count
    from persons
    group by month, vardcentral_hsa_id
)

select * from final
