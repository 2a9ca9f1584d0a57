-- The REGION row of every indicator is the sum of its VC rows (SPEC §5).
-- Returns the region rows that disagree, with both sums.
{{ config(severity='error', tags=['indicators', 'reconciliation']) }}

with indicators as (
    select * from {{ ref('indicators_monthly') }}
),

vc_sums as (
    select month, indicator_code, sex, profession,
        sum(numerator) as vc_numerator, sum(denominator) as vc_denominator
    from indicators
    where vardcentral_hsa_id <> 'REGION'
    group by all
),

region as (
    select * from indicators where vardcentral_hsa_id = 'REGION'
)

select
    region.month, region.indicator_code, region.sex, region.profession,
    region.numerator, vc_sums.vc_numerator, region.denominator, vc_sums.vc_denominator
from region
inner join vc_sums using (month, indicator_code, sex, profession)
where abs(coalesce(region.numerator, 0) - coalesce(vc_sums.vc_numerator, 0)) > 1e-9
    or coalesce(region.denominator, 0) <> coalesce(vc_sums.vc_denominator, 0)
