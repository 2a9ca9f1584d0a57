{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_run_months() }}"
    )
}}
-- Listed persons per month, VC, reporting age band and sex (sparse: only combinations with
-- someone listed).
with persons as (
    select * from {{ ref('listing__int_persons_listed') }}
),

final as (
    select
        month,
        vardcentral_hsa_id,
        age_band,
        sex,
        count(*) as listed_count,
        count(*) filter (where listing_type = 'aktiv') as aktiv_count,
        count(*) filter (where listing_type = 'passiv') as passiv_count,
        count(*) filter (where is_new_listing) as new_listings,
        count(*) filter (where is_sabo) as sabo_count,
        count(*) filter (where has_fast_lakare) as fast_lakare_count
    from persons
    group by all
)

select * from final
