{{ config(materialized='table') }}
-- One row per run month and listed person (state at month end, shared__int_person_months_listed),
-- with the reporting age band (SPEC §10.1, from raw.reporting_age_bands) and the flags the
-- listing indicators count.
-- The person is its compact key (nothing downstream needs person_key), and only the columns
-- the indicators read are kept: a national month writes 10.6 M rows here.
with persons as (
    select * from {{ ref('shared__int_person_months_listed') }}
),

units as (
    select * from {{ ref('stg_registry__units') }}
),

reporting_ages as (
    select * from {{ ref('indicators__int_reporting_ages_expanded') }}
),

final as (
    select
        persons.month,
        persons.month_start,
        {{ compact_key('persons.person_key') }} as person_id,
        persons.sex,
        persons.age,
        reporting_ages.age_band,
        persons.vardcentral_hsa_id,
        persons.listing_type,
        persons.has_fast_lakare,
        persons.fast_lakare_hsa_id,
        persons.is_sabo,
        persons.listed_from_date between persons.month_start and persons.month_end as is_new_listing,
        coalesce(
            persons.listed_from_date between persons.month_start and persons.month_end
            and persons.is_active_choice
            and units.cap_from_date is not null
            and persons.listed_from_date >= units.cap_from_date
            and (units.cap_to_date is null or persons.listed_from_date <= units.cap_to_date),
            false
        ) as is_cap_breach
    from persons
    left join reporting_ages on reporting_ages.age = least(persons.age, 130)
    left join units
        on units.hsa_id = persons.vardcentral_hsa_id
            and {{ registry_row_valid('units', 'persons.month_end') }}
)

select * from final
