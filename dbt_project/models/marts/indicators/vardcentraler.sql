{{ config(materialized='table') }}
-- The registry of care units as published: one row per unit, the columns of vardcentraler.csv.
with units as (
    select * from {{ ref('stg_registry__units') }}
),

final as (
    select
        hsa_id,
        name,
        unit_type,
        parent_hsa_id,
        owner_type,
        provider_name,
        municipality_code,
        opened_on_date as opened_on,
        closed_on_date as closed_on,
        rural_tier,
        listing_cap,
        cap_from_date as cap_from,
        cap_to_date as cap_to,
        vat_compensation_pct
    from units
)

select * from final
