{{ config(materialized='table') }}
-- One row per completed (`genomford`) contact of a run month, attributed twice:
--   care_unit_hsa_id            the performing care unit (a filial's parent VC; jour and
--                               digital units under their own id)
--   listing_vardcentral_hsa_id  the VC where the person is listed at the end of the
--                               contact's month (null: not listed, e.g. samordnings- or
--                               reserve number)
-- patient_category is relative to the performing care unit: own_listed (listed there),
-- other_listed (listed at another VC), not_listed. Only the columns the indicators and
-- contacts_monthly read are kept: a national month writes ~3.4 M rows here.
with contacts as (
    select * from {{ ref('stg_journal__contacts') }}
    where month in {{ run_month_list() }}
        and is_completed
),

persons as (
    select month, person_id, vardcentral_hsa_id
    from {{ ref('listing__int_persons_listed') }}
),

units as (
    select * from {{ ref('stg_registry__units') }}
),

final as (
    select
        contacts.month,
        contacts.contact_id,
        contacts.sex,
        contacts.care_unit_hsa_id,
        care_units.unit_type as care_unit_type,
        contacts.contact_type,
        contacts.profession,
        persons.vardcentral_hsa_id as listing_vardcentral_hsa_id,
        case
            when persons.vardcentral_hsa_id is null then 'not_listed'
            when persons.vardcentral_hsa_id = contacts.care_unit_hsa_id then 'own_listed'
            else 'other_listed'
        end as patient_category
    from contacts
    left join persons
        on persons.month = contacts.month
        and persons.person_id = {{ compact_key('contacts.person_key') }}
    left join units as care_units
        on care_units.hsa_id = contacts.care_unit_hsa_id
        and {{ registry_row_valid('care_units', month_end_of('contacts.month')) }}
)

select * from final
