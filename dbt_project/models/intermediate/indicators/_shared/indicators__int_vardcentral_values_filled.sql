{{ config(materialized='table') }}
-- Every SPEC §5 indicator per run month, open VC, code, sex and profession, with its value.
-- The scaffold (open VCs x codes x sexes x professions) guarantees a row even when nothing
-- was counted: counts become 0, shares get denominator 0 and value null. A table (the run's
-- months only), because indicators_monthly (which adds the REGION row and suppression) and
-- the goal payments of reimbursement_goals_monthly both read it.
with units as (
    select * from {{ ref('shared__int_vardcentraler_opened') }}
),

codes as (
    select * from {{ ref('indicators__int_codes_defined') }}
),

windows as (
    select * from {{ ref('indicators__int_windows_measured') }}
),

computed as (
    select * from {{ ref('indicators__int_indicators_computed') }}
),

vocabulary as (
    select * from {{ ref('stg_reference__vocabulary') }}
),

sexes as (
    select value as sex from vocabulary
    where vocabulary = 'sex_with_all'
),

-- `all` and each licensed profession (SPEC §5: not `ovrig`)
professions as (
    select 'all' as profession
    union all
    select value from vocabulary
    where vocabulary = 'licensed_profession'
),

scaffold as (
    select
        units.month,
        units.vardcentral_hsa_id,
        codes.indicator_code,
        sexes.sex,
        professions.profession,
        codes.unit_basis,
        codes.value_kind,
        codes.window_kind
    from units
    cross join codes
    inner join sexes on codes.is_split_by_sex or sexes.sex = 'all'
    inner join professions on codes.is_split_by_profession or professions.profession = 'all'
),

-- Unknown sex (null) only reaches `all`. A ratio's denominator does not add up over sexes:
-- its `all` rows come computed.
computed_by_sex as (
    select
        month,
        vardcentral_hsa_id,
        indicator_code,
        sex,
        profession,
        {{ exact_sum('numerator') }} as numerator,
        sum(denominator) as denominator
    from computed
    where sex in ('female', 'male')
    group by all
    union all
    select
        month,
        vardcentral_hsa_id,
        indicator_code,
        'all' as sex,
        profession,
        {{ exact_sum('numerator') }},
        sum(denominator)
    from computed
    where
        sex is distinct from 'all'
        and computed.indicator_code not in (
            select codes.indicator_code from codes
            where codes.value_kind = 'ratio'
        )
    group by month, vardcentral_hsa_id, indicator_code, profession
    union all
    select month, vardcentral_hsa_id, indicator_code, sex, profession, numerator, denominator
    from computed
    where sex = 'all'
),

filled as (
    select
        scaffold.month,
        scaffold.vardcentral_hsa_id,
        scaffold.indicator_code,
        scaffold.sex,
        scaffold.profession,
        scaffold.unit_basis,
        scaffold.value_kind,
        case
            when scaffold.indicator_code = 'ended_listings' and not windows.has_previous_snapshot then null
            else coalesce(computed_by_sex.numerator, 0)
        end as numerator,
        case
            when scaffold.value_kind = 'count' then null
            else coalesce(computed_by_sex.denominator, 0)
        end as denominator,
        case scaffold.window_kind
            when 'ended' then windows.ended_window_months
            when 'relisting' then windows.relisting_window_months
            when 'coverage' then windows.coverage_window_months
            when 'continuity' then windows.continuity_window_months
        end as window_months
    from scaffold
    inner join windows on scaffold.month = windows.month
    left join computed_by_sex
        on
            scaffold.month = computed_by_sex.month
            and scaffold.vardcentral_hsa_id = computed_by_sex.vardcentral_hsa_id
            and scaffold.indicator_code = computed_by_sex.indicator_code
            and scaffold.sex = computed_by_sex.sex
            and scaffold.profession = computed_by_sex.profession
),

final as (
    select
        *,
        {{ indicator_value('value_kind', 'numerator', 'denominator') }} as value
    from filled
)

select * from final
