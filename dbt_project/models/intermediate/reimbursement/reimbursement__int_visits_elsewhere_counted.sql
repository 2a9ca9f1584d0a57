-- Step 10. The visits-elsewhere deduction (SPEC §6): completed `besok` contacts in the month of
-- persons listed at a VC at month end, made at a unit whose care unit is not that VC (another
-- VC, a jour or digital unit; the VC's own filials are not elsewhere), counted by the
-- performing unit's type (a filial counts as a vardcentral) and priced at the model version's
-- deduction for that type: amount = -visits_elsewhere_count * sek_per_visit.
-- Grain: month, vardcentral_hsa_id (the listing VC), performing_unit_type; VCs with such visits.
with contacts as (
    select * from {{ ref('stg_journal__contacts') }}
    where month in {{ run_month_list() }}
        and is_completed
        and contact_type = 'besok'
),

listing as (
    select month, person_key, vardcentral_hsa_id
    from {{ ref('shared__int_person_months_listed') }}
),

months as (
    select * from {{ ref('reimbursement__int_months_versioned') }}
),

deductions as (
    select * from {{ ref('stg_model__deductions') }}
),

counted as (
    select
        listing.month,
        listing.vardcentral_hsa_id,
        case when contacts.unit_type = 'filial' then 'vardcentral' else contacts.unit_type end
            as performing_unit_type,
        count(*) as visits_elsewhere_count
    from contacts
    inner join listing
        on contacts.month = listing.month
            and contacts.person_key = listing.person_key
    where contacts.care_unit_hsa_id <> listing.vardcentral_hsa_id
    group by all
),

final as (
    select
        counted.month,
        counted.vardcentral_hsa_id,
        counted.performing_unit_type,
        counted.visits_elsewhere_count,
        coalesce(deductions.sek_per_visit, 0.0) as sek_per_visit,
        -1.0 * counted.visits_elsewhere_count * coalesce(deductions.sek_per_visit, 0.0) as amount
    from counted
    inner join months on counted.month = months.month
    left join deductions
        on months.version_id = deductions.version_id
            and counted.performing_unit_type = deductions.unit_type
)

select * from final
