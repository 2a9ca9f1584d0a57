{{ config(materialized='table') }}
-- One row per completed (`genomford`) contact of a run month, attributed twice:
--   care_unit_hsa_id            the performing care unit (a filial's parent VC; jour and
--                               digital units under their own id)
--   listing_vardcentral_hsa_id  the VC where the person is listed at the end of the
--                               contact's month (null: not listed, e.g. samordnings- or
--                               reserve number)
-- patient_category is relative to the performing care unit: own_listed (listed there),
-- other_listed (listed at another VC), not_listed.
with contacts as (
    select * from {{ ref('stg_journal__contacts') }}
    where month in {{ run_month_list() }}
        and is_completed
),

persons as (
    select month, person_key, vardcentral_hsa_id
    from {{ ref('listing__int_persons_listed') }}
),

units as (
    select * from {{ ref('stg_registry__units') }}
),

final as (
    select
        contacts.month,
        contacts.contact_id,
        contacts.person_key,
        contacts.person_id_kind,
        contacts.sex,
        contacts.unit_hsa_id,
        contacts.unit_type,
        contacts.care_unit_hsa_id,
        care_units.unit_type as care_unit_type,
        contacts.contact_date,
        contacts.contact_type,
        contacts.profession,
        contacts.staff_hsa_id,
        persons.vardcentral_hsa_id as listing_vardcentral_hsa_id,
        case
            when persons.vardcentral_hsa_id is null then 'not_listed'
            when persons.vardcentral_hsa_id = contacts.care_unit_hsa_id then 'own_listed'
            else 'other_listed'
        end as patient_category
    from contacts
    left join persons
        on persons.month = contacts.month
        and persons.person_key = contacts.person_key
    left join units as care_units
        on care_units.hsa_id = contacts.care_unit_hsa_id
)

select * from final
