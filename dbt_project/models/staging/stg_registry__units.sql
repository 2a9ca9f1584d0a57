-- The registry of care units; care_unit_hsa_id is where the unit's production counts
-- (its parent VC for a filial, itself otherwise).
with source as (
    select * from {{ source('raw', 'vardcentraler') }}
),

final as (
    select
        hsa_id,
        name,
        unit_type,
        parent_hsa_id,
        case when unit_type = 'filial' then parent_hsa_id else hsa_id end as care_unit_hsa_id,
        owner_type,
        provider_name,
        municipality_code,
        opened_on as opened_on_date,
        closed_on as closed_on_date,
        rural_tier,
        listing_cap,
        cap_from as cap_from_date,
        cap_to as cap_to_date,
        vat_compensation_pct
    from source
)

select * from final
