{{ config(materialized='table') }}
-- The registry of care units as published: one row per unit and validity period (SPEC §3.5,
-- §7), the columns of vardcentraler.csv with each row's valid_from..valid_to (null = open).
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
        provider_org_number,
        municipality_code,
        opened_on_date as opened_on,
        closed_on_date as closed_on,
        rural_tier,
        listing_cap,
        cap_from_date as cap_from,
        cap_to_date as cap_to,
        vat_compensation_pct,
        valid_from_date as valid_from,
        valid_to_date as valid_to
    from units
)

select * from final
