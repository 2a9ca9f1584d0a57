-- Step 5. Listed person-months of the run: who is listed where at month end, with age on the
-- month's last day (whole years; a 29 February birthday falls on 1 March in other years,
-- which comparing month*100+day gives for free), sex, SÄBO, DeSO and the model version.
-- Grain: month, person_key.
with listing as (
    select * from {{ ref('stg_listing__snapshots') }}
    where month in {{ run_month_list() }}
),

months as (
    select * from {{ ref('reimbursement__int_months_versioned') }}
),

final as (
    select
        listing.month,
        listing.person_key,
        listing.vardcentral_hsa_id,
        listing.sex,
        listing.birth_date,
        {{ age_in_years('listing.birth_date', 'listing.month_end') }} as age,
        listing.is_sabo,
        listing.deso,
        months.version_id
    from listing
    inner join months on months.month = listing.month
)

select * from final
