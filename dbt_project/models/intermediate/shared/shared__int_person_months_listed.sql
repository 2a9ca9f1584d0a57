-- One row per run month and person listed at a VC at the month's end (the listing snapshot),
-- with age in whole years on the month's last day (SPEC §3.2; the 29 February rule is in the
-- macro). Only the run's months are read. The listed persons of both domains: the listing
-- indicators, the patient category of contacts and the person-based reimbursement.
with snapshots as (
    select * from {{ ref('stg_listing__snapshots') }}
    where month in {{ run_month_list() }}
),

final as (
    select
        month,
        month_start,
        month_end,
        person_key,
        vardcentral_hsa_id,
        sex,
        birth_date,
        {{ age_in_years('birth_date', 'month_end') }} as age,
        listed_from_date,
        listing_type,
        is_active_choice,
        has_fast_lakare,
        fast_lakare_hsa_id,
        is_sabo,
        deso
    from snapshots
)

select * from final
