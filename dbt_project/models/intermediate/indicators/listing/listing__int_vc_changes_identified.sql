-- One row per relisting change (SPEC §10.2): a person whose VC differs between the
-- snapshots of two consecutive months, the later row being `aktiv`. `month` is the later
-- month. Only changes whose later month can fall in the 12-month window of a run month are
-- kept, so snapshots M-12..M are read (the first change is M-12 -> M-11).
-- A change needs both snapshots: a missing month breaks the chain (no change is inferred
-- across a gap).
with snapshots as (
    select month, month_start, person_key, vardcentral_hsa_id, listing_type
    from {{ ref('stg_listing__snapshots') }}
    where month between strftime({{ window_start_date(13) }}, '%Y-%m') and {{ month_to() }}
),

later_snapshots as (
    select * from snapshots
    where month >= strftime({{ window_start_date(12) }}, '%Y-%m')
),

earlier_snapshots as (
    select
        strftime(month_start + interval 1 month, '%Y-%m') as next_month,
        person_key,
        vardcentral_hsa_id
    from snapshots
),

final as (
    select
        later_snapshots.month,
        later_snapshots.month_start,
        later_snapshots.person_key,
        earlier_snapshots.vardcentral_hsa_id as from_vardcentral_hsa_id,
        later_snapshots.vardcentral_hsa_id as to_vardcentral_hsa_id
    from later_snapshots
    inner join earlier_snapshots
        on earlier_snapshots.next_month = later_snapshots.month
        and earlier_snapshots.person_key = later_snapshots.person_key
    where later_snapshots.vardcentral_hsa_id <> earlier_snapshots.vardcentral_hsa_id
        and later_snapshots.listing_type = 'aktiv'
)

select * from final
