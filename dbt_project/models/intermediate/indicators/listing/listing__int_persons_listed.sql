{{ config(materialized='table') }}
-- One row per run month and listed person (state at month end), with age, reporting age
-- band (SPEC §10.1, from raw.reporting_age_bands) and the flags the listing indicators count. Only the run's months are read.
-- The person is its compact key (nothing downstream needs person_key), and only the columns
-- the indicators read are kept: a national month writes 10.6 M rows here.
with snapshots as (
    select * from {{ ref('stg_listing__snapshots') }}
    where month in {{ run_month_list() }}
),

units as (
    select * from {{ ref('stg_registry__units') }}
),

reporting_ages as (
    select * from {{ ref('indicators__int_reporting_ages_expanded') }}
),

aged as (
    select
        snapshots.*,
        -- Whole years on the month's last day (29 February rule in the macro).
        {{ age_in_years('snapshots.birth_date', 'snapshots.month_end') }} as age
    from snapshots
),

final as (
    select
        aged.month,
        aged.month_start,
        {{ compact_key('aged.person_key') }} as person_id,
        aged.sex,
        aged.age,
        reporting_ages.age_band,
        aged.vardcentral_hsa_id,
        aged.listing_type,
        aged.has_fast_lakare,
        aged.fast_lakare_hsa_id,
        aged.is_sabo,
        aged.listed_from_date between aged.month_start and aged.month_end as is_new_listing,
        coalesce(
            aged.listed_from_date between aged.month_start and aged.month_end
            and aged.is_active_choice
            and units.cap_from_date is not null
            and aged.listed_from_date >= units.cap_from_date
            and (units.cap_to_date is null or aged.listed_from_date <= units.cap_to_date),
            false
        ) as is_cap_breach
    from aged
    left join reporting_ages on reporting_ages.age = least(aged.age, 130)
    left join units
        on units.hsa_id = aged.vardcentral_hsa_id
        and {{ registry_row_valid('units', 'aged.month_end') }}
)

select * from final
