{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_run_months() }}"
    )
}}
-- Completed contacts per month, performing care unit (filials under their parent VC; jour
-- and digital units under their own id), contact type, profession and patient category
-- (relative to that care unit). Sparse: only combinations with contacts.
with contacts as (
    select * from {{ ref('shared__int_contacts_categorised') }}
),

final as (
    select
        month,
        care_unit_hsa_id as vardcentral_hsa_id,
        contact_type,
        profession,
        patient_category,
        any_value(care_unit_type) as unit_type,
        count(*) as contact_count
    from contacts
    group by month, care_unit_hsa_id, contact_type, profession, patient_category
)

select * from final
