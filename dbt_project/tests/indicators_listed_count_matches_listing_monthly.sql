-- listed_count (sex all) in indicators_monthly equals the sum of listing_monthly per VC and
-- month. Returns the VC-months that disagree.
{{ config(severity='error', tags=['indicators', 'reconciliation'],
          meta={'dagster': {'ref': {'name': 'indicators_monthly'}}}) }}
{# It reads two models: meta.dagster.ref makes it a check of indicators_monthly in Dagster
   (a test of two models is otherwise logged as an observation, with a warning, every run). #}

with indicator_counts as (
    select month, vardcentral_hsa_id, numerator as listed_count
    from {{ ref('indicators_monthly') }}
    where indicator_code = 'listed_count' and sex = 'all' and vardcentral_hsa_id <> 'REGION'
),

listing_counts as (
    select month, vardcentral_hsa_id, sum(listed_count) as listed_count
    from {{ ref('listing_monthly') }}
    group by all
)

select
    coalesce(indicator_counts.month, listing_counts.month) as month,
    coalesce(indicator_counts.vardcentral_hsa_id, listing_counts.vardcentral_hsa_id) as vardcentral_hsa_id,
    indicator_counts.listed_count as indicator_listed_count,
    listing_counts.listed_count as listing_monthly_listed_count
from indicator_counts
full outer join listing_counts
    on listing_counts.month = indicator_counts.month
    and listing_counts.vardcentral_hsa_id = indicator_counts.vardcentral_hsa_id
where coalesce(indicator_counts.listed_count, 0) <> coalesce(listing_counts.listed_count, 0)
