-- One row per person, contact month and caregiver (staff_hsa_id) over the months any run
-- month's 12-month window needs (month_from-11 .. month_to): qualifying completed contacts
-- (besok, hembesok, video) with a known caregiver, at any unit.
--   contact_count         all professions (continuity_all)
--   doctor_contact_count  profession lakare (continuity_doctor, continuity_doctor_sabo)
with contacts as (
    select * from {{ ref('stg_journal__contacts') }}
    where month in {{ window_month_list(12) }}
        and is_completed
        and contact_type in ('besok', 'hembesok', 'video')
        and nullif(trim(staff_hsa_id), '') is not null
),

final as (
    select
        person_key,
        month,
        staff_hsa_id,
        count(*) as contact_count,
        count(*) filter (where profession = 'lakare') as doctor_contact_count
    from contacts
    group by all
)

select * from final
