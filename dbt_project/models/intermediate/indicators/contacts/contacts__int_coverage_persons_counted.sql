-- One row per run month M and person listed at the end of M with at least one completed
-- contact (any type, any profession) in the 6-month window M-5..M:
--   contacts_here  contacts whose performing care unit is the listing VC (filials included)
--   contacts_any   contacts at any unit (jour and digital included)
-- Contacts are aggregated per person, month and care unit before the join.
with contacts as (
    select person_key, month, care_unit_hsa_id, count(*) as contact_count
    from {{ ref('stg_journal__contacts') }}
    where month in {{ window_month_list(6) }}
        and is_completed
    group by all
),

persons as (
    select month, month_start, person_key, sex, vardcentral_hsa_id
    from {{ ref('listing__int_persons_listed') }}
),

final as (
    select
        persons.month,
        persons.vardcentral_hsa_id,
        persons.person_key,
        persons.sex,
        coalesce(sum(contacts.contact_count) filter (
            where contacts.care_unit_hsa_id = persons.vardcentral_hsa_id
        ), 0) as contacts_here,
        sum(contacts.contact_count) as contacts_any
    from persons
    inner join contacts
        on contacts.person_key = persons.person_key
        and contacts.month between strftime(persons.month_start - interval 5 months, '%Y-%m') and persons.month
    group by all
)

select * from final
