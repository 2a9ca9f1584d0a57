{{ config(materialized='table') }}
-- One row per completed (`genomford`) contact of a run month, attributed twice:
--   care_unit_hsa_id            the performing care unit (a filial's parent VC; jour and
--                               digital units under their own id)
--   listing_vardcentral_hsa_id  the VC where the person is listed at the end of the
--                               contact's month (null: not listed, e.g. samordnings- or
--                               reserve number)
-- and the patient category relative to the performing care unit (SPEC §6, §10.2):
--   own_listed   listed at the performing care unit
--   other_listed listed at another VC
--   not_listed   not listed anywhere
-- A table (the run's months only), because the contact indicators, contacts_monthly and the
-- visit fees all read it: the join runs once per run. Only the columns its readers use are
-- kept: a national month writes ~3.4 M rows here.
with contacts as (
    select * from {{ ref('stg_journal__contacts') }}
    where
        month in {{ run_month_list() }}
        and is_completed
),

persons as (
    select
        month,
        person_key,
        vardcentral_hsa_id
    from {{ ref('shared__int_person_months_listed') }}
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
        on
            contacts.month = persons.month
            and contacts.person_key = persons.person_key
    left join units as care_units
        on
            contacts.care_unit_hsa_id = care_units.hsa_id
            and {{ registry_row_valid('care_units', month_end_of('contacts.month')) }}
)

select * from final
