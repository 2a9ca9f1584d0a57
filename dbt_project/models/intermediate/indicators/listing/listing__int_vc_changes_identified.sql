-- One row per relisting change (SPEC §10.2): a person whose VC differs between the
-- snapshots of two consecutive months, the later row being `aktiv`. `month` is the later
-- month. Only changes whose later month can fall in the 12-month window of a run month are
-- kept, so snapshots M-12..M are read (the first change is M-12 -> M-11).
-- A change needs both snapshots: a missing month breaks the chain (no change is inferred
-- across a gap).
-- Only persons listed at two or more VCs in those snapshots can have a change: they are found
-- with one aggregation, and only their rows go into the self-join (a join of every snapshot
-- row with the previous month's was most of indicators_monthly's time). The grouping key is
-- a hash of person_key: a collision can only add a person to the join, never drop one.
with snapshots as (
    select month, month_start, person_key, vardcentral_hsa_id, listing_type
    from {{ ref('stg_listing__snapshots') }}
    where month between strftime({{ window_start_date(13) }}, '%Y-%m') and {{ month_to() }}
),

movers as (
    select hash(person_key) as person_hash
    from snapshots
    group by person_hash
    having min(vardcentral_hsa_id) <> max(vardcentral_hsa_id)
),

mover_snapshots as (
    select * from snapshots
    where hash(person_key) in (select person_hash from movers)
),

later_snapshots as (
    select * from mover_snapshots
    where month >= strftime({{ window_start_date(12) }}, '%Y-%m')
),

earlier_snapshots as (
    select
        strftime(month_start + interval 1 month, '%Y-%m') as next_month,
        person_key,
        vardcentral_hsa_id
    from mover_snapshots
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
