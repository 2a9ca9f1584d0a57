-- One row per run month: how many months of each indicator window are present in the
-- warehouse (a month is present when raw.listing / raw.visits holds rows for it).
--   ended_window_months      listing snapshots present among M-1, M (ended_listings is null without M-1)
--   relisting_window_months  months k in M-11..M whose snapshot and the one of k-1 are both present
--                            (the number of month-to-month changes that can be seen, at most 12)
--   coverage_window_months   contact months present in M-5..M
--   continuity_window_months contact months present in M-11..M
with months as (
    {{ run_months() }}
),

-- distinct months first, then their dates: casting per row cost ~4 s over 137 M national
-- listing rows.
listing_months as (
    select month, cast(month || '-01' as date) as month_start
    from (
        select distinct month
        from {{ ref('stg_listing__snapshots') }}
        where month in {{ window_month_list(13) }}
    )
),

contact_months as (
    select month, cast(month || '-01' as date) as month_start
    from (
        select distinct month
        from {{ ref('stg_journal__contacts') }}
        where month in {{ window_month_list(12) }}
    )
),

listing_pairs as (
    select later.month_start
    from listing_months as later
    inner join listing_months as earlier
        on earlier.month_start = later.month_start - interval 1 month
),

listing_counts as (
    select
        months.month,
        count(*) filter (
            where listing_months.month_start = months.month_start - interval 1 month
        ) > 0 as has_previous_snapshot,
        count(*) filter (
            where listing_months.month_start between months.month_start - interval 1 month and months.month_start
        ) as ended_window_months
    from months
    left join listing_months
        on listing_months.month_start between months.month_start - interval 1 month and months.month_start
    group by months.month
),

relisting_counts as (
    select months.month, count(listing_pairs.month_start) as relisting_window_months
    from months
    left join listing_pairs
        on listing_pairs.month_start between months.month_start - interval 11 month and months.month_start
    group by months.month
),

contact_counts as (
    select
        months.month,
        count(contact_months.month_start) filter (
            where contact_months.month_start >= months.month_start - interval 5 month
        ) as coverage_window_months,
        count(contact_months.month_start) as continuity_window_months
    from months
    left join contact_months
        on contact_months.month_start between months.month_start - interval 11 month and months.month_start
    group by months.month
),

final as (
    select
        months.month,
        months.month_start,
        months.month_end,
        listing_counts.has_previous_snapshot,
        listing_counts.ended_window_months,
        relisting_counts.relisting_window_months,
        contact_counts.coverage_window_months,
        contact_counts.continuity_window_months
    from months
    left join listing_counts on months.month = listing_counts.month
    left join relisting_counts on months.month = relisting_counts.month
    left join contact_counts on months.month = contact_counts.month
)

select * from final
