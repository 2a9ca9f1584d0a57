{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_vc_changes_to_recompute() }}"
    )
}}
-- One row per relisting change (SPEC §10.2): a person whose VC differs between the
-- snapshots of two consecutive months, the later row being `aktiv`. `month` is the later
-- month. A change needs both snapshots: a missing month breaks the chain (no change is
-- inferred across a gap).
-- Stored month by month: a change of month k depends only on the snapshots of k-1 and k, so
-- a run computes the months its 12-month windows need that the table lacks, and always its
-- own months and the month after them (whose earlier snapshot it may just have replaced;
-- the pre-hook deletes those). A month's relisting window then reads 12 months of stored
-- changes instead of 13 listing snapshots (a national month: 138 M rows, which would grow the
-- dbt build by ~30 s with each month of history until the window is full).
with wanted_months as (
    select
        month,
        strftime(cast(month || '-01' as date) - interval 1 month, '%Y-%m') as previous_month
    from ({{ window_months_missing(12, end_offset=1) }})
),

-- Only months whose snapshot and the one before are both present can hold changes: the
-- others (the month after the run, a month after a gap) read nothing. Months are selected
-- with `in` on the month column, which DuckDB pushes into the scan (a shared CTE of the
-- snapshots was materialised instead: 42 M rows spilled to disk at four national months).
present_months as (
    select distinct month
    from {{ ref('stg_listing__snapshots') }}
    where month in (
            select wanted_months.month from wanted_months
            union all
            select wanted_months.previous_month from wanted_months
        )
),

pairs as (
    select month, previous_month
    from wanted_months
    where month in (select present_months.month from present_months)
        and previous_month in (select present_months.month from present_months)
),

later_snapshots as (
    select month, month_start, person_key, vardcentral_hsa_id
    from {{ ref('stg_listing__snapshots') }}
    where month in (select pairs.month from pairs)
        and listing_type = 'aktiv'
),

earlier_snapshots as (
    select
        strftime(month_start + interval 1 month, '%Y-%m') as next_month,
        person_key,
        vardcentral_hsa_id
    from {{ ref('stg_listing__snapshots') }}
    where month in (select pairs.previous_month from pairs)
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
        on later_snapshots.month = earlier_snapshots.next_month
            and later_snapshots.person_key = earlier_snapshots.person_key
    where later_snapshots.vardcentral_hsa_id <> earlier_snapshots.vardcentral_hsa_id
)

select * from final
