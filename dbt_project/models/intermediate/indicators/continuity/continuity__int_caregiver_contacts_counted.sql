{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_run_months() }}"
    )
}}
-- One row per contact month, person and caregiver (staff_hsa_id): qualifying completed
-- contacts (besok, hembesok, video) with a known caregiver, at any unit.
--   contact_count         all professions (continuity_all)
--   doctor_contact_count  profession lakare (continuity_doctor, continuity_doctor_sabo)
-- Stored month by month with compact keys: a month's counts depend only on its own
-- contacts, so a run computes its own months (the pre-hook deletes them) and any month of
-- its 12-month windows the table lacks. The window then sums 12 stored months of 16-byte
-- keys instead of regrouping 12 months of contacts by their string keys (a national month
-- at 11 months of history runs out of DuckDB's 4 GB that way).
with wanted_months as (
    {{ window_months_missing(12) }}
),

contacts as (
    select * from {{ ref('stg_journal__contacts') }}
    where month in (select wanted_months.month from wanted_months)
        and is_completed
        and contact_type in ('besok', 'hembesok', 'video')
        and nullif(trim(staff_hsa_id), '') is not null
),

final as (
    select
        month,
        {{ compact_key('person_key') }} as person_id,
        {{ compact_key('staff_hsa_id') }} as caregiver_id,
        count(*) as contact_count,
        count(*) filter (where profession = 'lakare') as doctor_contact_count
    from contacts
    group by month, person_key, staff_hsa_id
)

select * from final
