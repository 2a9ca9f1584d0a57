-- One row per run month M and person listed at the end of M with at least one qualifying
-- contact in M-11..M: the Bice-Boxerman continuity of care index
--   COC = (Σ n_i² - N) / (N (N - 1)),  n_i = contacts with caregiver i, N = Σ n_i,
-- for all professions (coc_all) and for doctors only (coc_doctor); null when N < 2.
-- The person counts at the VC where they are listed at the end of M; is_sabo is the
-- SÄBO flag at the end of M.
with persons as (
    select month, month_start, person_key, sex, vardcentral_hsa_id, is_sabo
    from {{ ref('listing__int_persons_listed') }}
),

caregiver_contacts as (
    select * from {{ ref('continuity__int_caregiver_contacts_counted') }}
),

per_caregiver as (
    select
        persons.month,
        persons.person_key,
        caregiver_contacts.staff_hsa_id,
        sum(caregiver_contacts.contact_count) as n_all,
        sum(caregiver_contacts.doctor_contact_count) as n_doctor
    from persons
    inner join caregiver_contacts
        on caregiver_contacts.person_key = persons.person_key
        and caregiver_contacts.month
            between strftime(persons.month_start - interval 11 months, '%Y-%m') and persons.month
    group by all
),

per_person as (
    select
        month,
        person_key,
        sum(n_all) as contact_count,
        sum(n_all * n_all) as contact_count_squares,
        sum(n_doctor) as doctor_contact_count,
        sum(n_doctor * n_doctor) as doctor_contact_count_squares
    from per_caregiver
    group by all
),

final as (
    select
        persons.month,
        persons.vardcentral_hsa_id,
        persons.person_key,
        persons.sex,
        persons.is_sabo,
        per_person.contact_count,
        case when per_person.contact_count >= 2 then
            cast(per_person.contact_count_squares - per_person.contact_count as double)
            / (per_person.contact_count * (per_person.contact_count - 1))
        end as coc_all,
        per_person.doctor_contact_count,
        case when per_person.doctor_contact_count >= 2 then
            cast(per_person.doctor_contact_count_squares - per_person.doctor_contact_count as double)
            / (per_person.doctor_contact_count * (per_person.doctor_contact_count - 1))
        end as coc_doctor
    from per_person
    inner join persons
        on persons.month = per_person.month
        and persons.person_key = per_person.person_key
)

select * from final
