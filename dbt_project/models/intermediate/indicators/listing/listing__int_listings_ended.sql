-- One row per run month M and person listed at a VC at the end of M-1 who is not listed
-- at that VC at the end of M (listed elsewhere or no longer listed). Reads M-1 and M only.
-- A run month whose M-1 snapshot is absent has no rows here; the mart then gives null.
with current_listing as (
    select month, person_key, vardcentral_hsa_id
    from {{ ref('stg_listing__snapshots') }}
    where month in {{ run_month_list() }}
),

previous_listing as (
    select
        strftime(month_start + interval 1 month, '%Y-%m') as month,
        person_key,
        sex,
        vardcentral_hsa_id
    from {{ ref('stg_listing__snapshots') }}
    where month in {{ window_month_list(2, end_offset=-1) }}   -- the month before each run month
),

final as (
    select
        previous_listing.month,
        previous_listing.vardcentral_hsa_id,
        previous_listing.person_key,
        previous_listing.sex,
        current_listing.vardcentral_hsa_id as new_vardcentral_hsa_id
    from previous_listing
    left join current_listing
        on previous_listing.month = current_listing.month
            and previous_listing.person_key = current_listing.person_key
    where current_listing.vardcentral_hsa_id is null
        or current_listing.vardcentral_hsa_id <> previous_listing.vardcentral_hsa_id
)

select * from final
