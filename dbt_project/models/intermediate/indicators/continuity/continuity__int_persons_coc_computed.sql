{{ config(materialized='table') }}
-- One row per run month M and person listed at the end of M with at least one qualifying
-- contact in M-11..M: the Bice-Boxerman continuity of care index
--   COC = (Σ n_i² - N) / (N (N - 1)),  n_i = contacts with caregiver i, N = Σ n_i,
-- for all professions (coc_all) and for doctors only (coc_doctor); null when N < 2.
-- The person counts at the VC where they are listed at the end of M; is_sabo is the
-- SÄBO flag at the end of M.
-- A table of its own, so that DuckDB does not hold this, the heaviest part of the
-- indicators, beside the mart's other parts. The window's sums are grouped on the compact
-- keys and joined to the listed persons last, as one row per person.
with caregiver_contacts as (
    {{ rows_in_run_windows(ref('continuity__int_caregiver_contacts_counted'), 12) }}
),

per_caregiver as (
    select
        month,
        person_id,
        caregiver_id,
        sum(contact_count) as n_all,
        sum(doctor_contact_count) as n_doctor
    from caregiver_contacts
    group by all
),

per_person as (
    select
        month,
        person_id,
        sum(n_all) as contact_count,
        sum(n_all * n_all) as contact_count_squares,
        sum(n_doctor) as doctor_contact_count,
        sum(n_doctor * n_doctor) as doctor_contact_count_squares
    from per_caregiver
    group by all
),

persons as (
    select
        month,
        person_id,
        sex,
        vardcentral_hsa_id,
        is_sabo
    from {{ ref('listing__int_persons_listed') }}
),

final as (
    select
        persons.month,
        persons.vardcentral_hsa_id,
        persons.person_id,
        persons.sex,
        persons.is_sabo,
        per_person.contact_count,
        case
            when per_person.contact_count >= 2
                then cast(per_person.contact_count_squares - per_person.contact_count as double)
                    / (per_person.contact_count * (per_person.contact_count - 1))
        end as coc_all,
        per_person.doctor_contact_count,
        case
            when per_person.doctor_contact_count >= 2
                then cast(per_person.doctor_contact_count_squares - per_person.doctor_contact_count as double)
                    / (per_person.doctor_contact_count * (per_person.doctor_contact_count - 1))
        end as coc_doctor
    from per_person
    inner join persons
        on per_person.month = persons.month
            and per_person.person_id = persons.person_id
)

select * from final
