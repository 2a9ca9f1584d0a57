{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_run_months() }}"
    )
}}
-- One row per contact month, person and performing care unit: completed contacts of any
-- type and profession (filial contacts under their parent VC), for coverage_ratio.
-- Stored month by month on the compact person key, like the caregiver contacts: a run counts
-- its own months (the pre-hook deletes them) and any month of its 6-month windows the table
-- lacks, and the window sums stored months instead of regrouping 6 months of contacts by
-- their string keys.
with wanted_months as (
    {{ window_months_missing(6) }}
),

contacts as (
    select * from {{ ref('stg_journal__contacts') }}
    where month in (select wanted_months.month from wanted_months)
        and is_completed
),

final as (
    select
        month,
        {{ compact_key('person_key') }} as person_id,
        care_unit_hsa_id,
        count(*) as contact_count
    from contacts
    group by month, person_key, care_unit_hsa_id
)

select * from final
