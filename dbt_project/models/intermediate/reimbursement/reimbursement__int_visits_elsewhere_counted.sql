-- Step 10. The visits-elsewhere deduction's base (SPEC §6): completed `besok` contacts in the
-- month of persons listed at a VC at month end, made at a unit whose care unit is not that VC
-- (another VC, a jour or digital unit; the VC's own filials are not elsewhere).
-- Grain: month, vardcentral_hsa_id (the listing VC), for VCs with at least one such visit.
with contacts as (
    select * from {{ ref('stg_journal__contacts') }}
    where month in {{ run_month_list() }}
        and is_completed
        and contact_type = 'besok'
),

listing as (
    select month, person_key, vardcentral_hsa_id
    from {{ ref('reimbursement__int_person_months_listed') }}
),

final as (
    select
        listing.month,
        listing.vardcentral_hsa_id,
        count(*) as visits_elsewhere_count
    from contacts
    inner join listing
        on listing.month = contacts.month
        and listing.person_key = contacts.person_key
    where contacts.care_unit_hsa_id <> listing.vardcentral_hsa_id
    group by listing.month, listing.vardcentral_hsa_id
)

select * from final
