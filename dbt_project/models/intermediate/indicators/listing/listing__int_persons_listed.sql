{{ config(materialized='table') }}
-- One row per run month and listed person (state at month end), with age, reporting age
-- band and the flags the listing indicators count. Only the run's months are read.
with snapshots as (
    select * from {{ ref('stg_listing__snapshots') }}
    where month in {{ run_month_list() }}
),

units as (
    select * from {{ ref('stg_registry__units') }}
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
        aged.month_end,
        aged.person_key,
        aged.sex,
        aged.birth_date,
        aged.age,
        case
            when aged.age <= 6 then '0-6'
            when aged.age <= 19 then '7-19'
            when aged.age <= 39 then '20-39'
            when aged.age <= 64 then '40-64'
            when aged.age <= 74 then '65-74'
            when aged.age <= 84 then '75-84'
            else '85+'
        end as age_band,
        aged.vardcentral_hsa_id,
        aged.listed_from_date,
        aged.listing_type,
        aged.is_active_choice,
        aged.fast_lakare_hsa_id,
        aged.has_fast_lakare,
        aged.is_sabo,
        aged.deso,
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
    left join units on units.hsa_id = aged.vardcentral_hsa_id
)

select * from final
