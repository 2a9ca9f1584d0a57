-- One row per first assessment (SPEC §5) whose contact lies in a run month.
-- Candidates: completed contacts with new_problem, a licensed profession (not `ovrig`),
-- patient_chose_later false and a first_contact_date. Per person, performing care unit
-- (filials as parent) and first_contact_date the earliest candidate across all months
-- (ties: lowest contact_id) is the first assessment; it counts in the month of its
-- contact_date. wait_days = contact_date - first_contact_date in calendar days.
-- The profession split uses the profession of the selected contact.
-- History: only the candidates that share (person, care unit, first_contact_date) with a
-- candidate of a run month can change its rank, so only those are ranked. Because
-- first_contact_date <= contact_date, they lie on or after the earliest first_contact_date
-- among the run's candidates, so history is read from there; bounded by var
-- assessment_history_months (default 24) months before month_from so that one bad date
-- cannot scan all history.
with run_candidates as (
    select distinct person_key, care_unit_hsa_id, first_contact_date
    from {{ ref('stg_journal__contacts') }}
    where month in {{ run_month_list() }}
        and is_completed
        and is_new_problem
        and profession <> 'ovrig'
        and not is_patient_chose_later
        and first_contact_date is not null
),

history_bound as (
    select
        greatest(
            min(first_contact_date),
            cast({{ window_start_date(var('assessment_history_months', 24)) }} as date)
        ) as history_from_date
    from run_candidates
),

rivals as (
    select
        contacts.month,
        contacts.contact_id,
        contacts.person_key,
        contacts.sex,
        contacts.unit_hsa_id,
        contacts.care_unit_hsa_id,
        contacts.profession,
        contacts.first_contact_date,
        contacts.contact_date
    from {{ ref('stg_journal__contacts') }} as contacts
    semi join run_candidates
        on contacts.person_key = run_candidates.person_key
            and contacts.care_unit_hsa_id = run_candidates.care_unit_hsa_id
            and contacts.first_contact_date = run_candidates.first_contact_date
    -- the history bound below never reaches further back; bounding here keeps older months
    -- out of the scan
    where contacts.month in {{ window_month_list(var('assessment_history_months', 24)) }}
        and contacts.month >= (select strftime(history_bound.history_from_date, '%Y-%m') from history_bound)
        and contacts.is_completed
        and contacts.is_new_problem
        and contacts.profession <> 'ovrig'
        and not contacts.is_patient_chose_later
),

ranked as (
    select
        *,
        row_number() over (
            partition by person_key, care_unit_hsa_id, first_contact_date
            order by contact_date, contact_id
        ) as assessment_rank
    from rivals
),

final as (
    select
        month,
        contact_id,
        person_key,
        sex,
        unit_hsa_id,
        care_unit_hsa_id,
        profession,
        first_contact_date,
        contact_date,
        date_diff('day', first_contact_date, contact_date) as wait_days
    from ranked
    where assessment_rank = 1
        and month in {{ run_month_list() }}
)

select * from final
