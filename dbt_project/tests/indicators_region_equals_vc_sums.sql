-- The REGION row of every indicator is the sum of its VC rows (SPEC §5).
-- Returns the region rows that disagree, with both sums. Numerators are doubles (a sum of
-- per-person COC values): they agree to 1e-12 of their size, the sums' own rounding. An
-- absolute 1e-9 failed a national month whose 2 M continuity values summed to 813 993.23
-- (a difference of 1.0e-9, a few units in the last place).
{{ config(severity='error', tags=['indicators', 'reconciliation']) }}

with indicators as (
    select * from {{ ref('indicators_monthly') }}
),

vc_sums as (
    select month, indicator_code, sex, profession,
        {{ exact_sum('numerator') }} as vc_numerator, sum(denominator) as vc_denominator
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
where abs(coalesce(region.numerator, 0) - coalesce(vc_sums.vc_numerator, 0))
        > 1e-12 * greatest(1, abs(coalesce(vc_sums.vc_numerator, 0)))
    or coalesce(region.denominator, 0) <> coalesce(vc_sums.vc_denominator, 0)
