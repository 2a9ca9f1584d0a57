-- One row per contact; care_unit_hsa_id attributes filial production to the parent VC
-- (the registry row valid at the end of the contact's month).
with source as (
    select * from {{ source('raw', 'visits') }}
),

units as (
    select * from {{ ref('stg_registry__units') }}
),

final as (
    select
        source.month,
        source.contact_id,
        source.person_key,
        source.person_id_kind,
        source.sex,
        source.birth_date,
        source.vardcentral_hsa_id as unit_hsa_id,
        units.unit_type,
        coalesce(units.care_unit_hsa_id, source.vardcentral_hsa_id) as care_unit_hsa_id,
        source.contact_date,
        source.contact_type,
        source.profession,
        source.staff_hsa_id,
        source.status,
        source.status = 'genomford' as is_completed,
        source.is_new_problem,
        source.first_contact_date,
        source.is_patient_chose_later,
        source.source_file,
        source.source_line
    from source
    left join units
        on source.vardcentral_hsa_id = units.hsa_id
            and {{ registry_row_valid('units', month_end_of('source.month')) }}
)

select * from final
