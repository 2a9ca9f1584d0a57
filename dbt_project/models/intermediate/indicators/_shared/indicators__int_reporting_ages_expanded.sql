-- listing_monthly's fixed reporting age bands (SPEC §10.1, raw.reporting_age_bands) spelled
-- out per whole year of age 0..130 (older persons use 130), so persons find their band by an
-- equi-join on age. Reimbursement's person rows carry the same band beside the capitation band.
-- Grain: age.
with bands as (
    select * from {{ ref('stg_reference__reporting_age_bands') }}
),

ages as (
    select cast(range as integer) as age from range(0, 131)
),

final as (
    select
        ages.age,
        bands.age_band,
        bands.sort_order as age_band_order
    from bands
    inner join ages
        on bands.age_from <= ages.age
            and (bands.age_to is null or bands.age_to >= ages.age)
)

select * from final
