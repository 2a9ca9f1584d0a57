-- One row per run month M and person listed at the end of M with at least one completed
-- contact (any type, any profession) in the 6-month window M-5..M:
--   contacts_here  contacts whose performing care unit is the listing VC (filials included)
--   contacts_any   contacts at any unit (jour and digital included)
-- Contacts come counted per month, person and care unit (stored month by month), and are
-- joined to the listed persons on the compact person key.
with windowed as (
    {{ rows_in_run_windows(ref('contacts__int_care_unit_contacts_counted'), 6) }}
),

persons as (
    select month, person_id, sex, vardcentral_hsa_id
    from {{ ref('listing__int_persons_listed') }}
),

final as (
    select
        persons.month,
        persons.vardcentral_hsa_id,
        persons.person_id,
        persons.sex,
        coalesce(sum(windowed.contact_count) filter (
            where windowed.care_unit_hsa_id = persons.vardcentral_hsa_id
        ), 0) as contacts_here,
        sum(windowed.contact_count) as contacts_any
    from persons
    inner join windowed
        on persons.month = windowed.month
            and persons.person_id = windowed.person_id
    group by all
)

select * from final
