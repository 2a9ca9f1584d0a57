{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_run_months() }}"
    )
}}
-- Every SPEC §5 indicator per month, open VC, code, sex and profession, plus the REGION row,
-- with the suppression flag of SPEC §7.
with vardcentral_rows as (
    select * from {{ ref('indicators__int_vardcentral_values_filled') }}
),

-- The region is its VCs: sums of the VC rows (continuity: Σ COC / Σ persons = the mean
-- over all persons in the VC rows).
region_sums as (
    select
        month,
        'REGION' as vardcentral_hsa_id,
        indicator_code,
        sex,
        profession,
        any_value(unit_basis) as unit_basis,
        any_value(value_kind) as value_kind,
        {{ exact_sum('numerator') }} as numerator,
        sum(denominator) as denominator,
        any_value(window_months) as window_months
    from vardcentral_rows
    group by month, indicator_code, sex, profession
),

region_rows as (
    select
        *,
        {{ indicator_value('value_kind', 'numerator', 'denominator') }} as value
    from region_sums
),

unioned as (
    select * from vardcentral_rows
    union all by name
    select * from region_rows
),

final as (
    select
        month,
        vardcentral_hsa_id,
        indicator_code,
        sex,
        profession,
        cast(numerator as double) as numerator,
        cast(denominator as bigint) as denominator,
        value,
        case
            when value_kind = 'count' then coalesce(numerator between 1 and {{ min_cell() }} - 1, false)
            when value_kind = 'ratio' then false
            else denominator < {{ min_cell() }}
        end as is_suppressed,
        cast(window_months as integer) as window_months,
        unit_basis
    from unioned
)

select * from final
