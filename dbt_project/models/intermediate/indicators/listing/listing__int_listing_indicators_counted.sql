-- The listing indicators' parts per run month, listing VC and sex (SPEC §5): counts of listed,
-- new, cap-breach, ended and relisted-over-limit persons; the named-GP shares as numerator
-- (with a named GP) over denominator (listed). listed_per_named_gp divides the listed with a
-- named GP by the distinct named GPs among them; distinct GPs do not add up over sexes, so
-- its rows for sex `all` are computed here too.
with persons as (
    select * from {{ ref('listing__int_persons_listed') }}
),

ended as (
    select * from {{ ref('listing__int_listings_ended') }}
),

relistings as (
    select * from {{ ref('listing__int_relistings_counted') }}
),

listing_by_sex as (
    select
        month,
        vardcentral_hsa_id,
        sex,
        count(*) as listed_count,
        count(*) filter (where is_new_listing) as new_listings,
        count(*) filter (where is_cap_breach) as cap_breach_listings,
        count(*) filter (where has_fast_lakare) as fast_lakare_count,
        count(*) filter (where is_sabo) as sabo_count,
        count(*) filter (where is_sabo and has_fast_lakare) as sabo_fast_lakare_count
    from persons
    group by all
),

listed_counts as (
    select
        month,
        vardcentral_hsa_id,
        'listed_count' as indicator_code,
        sex,
        listed_count as numerator,
        null as denominator
    from listing_by_sex
    union all
    select month, vardcentral_hsa_id, 'new_listings', sex, new_listings, null
    from listing_by_sex
    union all
    select month, vardcentral_hsa_id, 'cap_breach_listings', sex, cap_breach_listings, null
    from listing_by_sex
),

named_gp_shares as (
    select
        month,
        vardcentral_hsa_id,
        'fast_lakare_share' as indicator_code,
        sex,
        fast_lakare_count as numerator,
        listed_count as denominator
    from listing_by_sex
    union all
    select month, vardcentral_hsa_id, 'fast_lakare_share_sabo', sex, sabo_fast_lakare_count, sabo_count
    from listing_by_sex
),

ended_listings as (
    select
        month,
        vardcentral_hsa_id,
        'ended_listings' as indicator_code,
        sex,
        count(*) as numerator,
        null as denominator
    from ended
    group by all
),

relistings_over_limit as (
    select
        month,
        vardcentral_hsa_id,
        'relisting_over_limit' as indicator_code,
        sex,
        count(*) as numerator,
        null as denominator
    from relistings
    where change_count > 2
    group by all
),

listed_per_named_gp as (
    select
        month,
        vardcentral_hsa_id,
        'listed_per_named_gp' as indicator_code,
        case when grouping(sex) = 1 then 'all' else sex end as sex,
        count(*) as numerator,
        count(distinct fast_lakare_hsa_id) as denominator
    from persons
    where has_fast_lakare
    -- rollup: the rows per sex, and the row over all sexes (grouping(sex) = 1)
    group by month, vardcentral_hsa_id, rollup(sex)
),

unioned as (
    select * from listed_counts
    union all
    select * from named_gp_shares
    union all
    select * from ended_listings
    union all
    select * from relistings_over_limit
    union all
    select * from listed_per_named_gp
),

final as (
    select
        month,
        vardcentral_hsa_id,
        indicator_code,
        sex,
        'all' as profession,
        cast(numerator as double) as numerator,
        cast(denominator as bigint) as denominator
    from unioned
)

select * from final
