{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_run_months() }}") }}
-- Step 11. Goal-related payment per open VC, month and goal of the month's model version
-- (SPEC §6): fulfilment from the VC's indicator value (indicators__int_vardcentral_values_filled,
-- the value indicators_monthly publishes) with sex 'all' and the goal's profession (a
-- suppressed value still pays):
--   all_or_nothing: 1 when value >= high (direction lower: value <= high), else 0
--   linear:         clip((value - low) / (high - low), 0, 1); the same formula runs from low (0)
--                   down to high (1) for direction lower, where low > high
--   no value:       0, has_indicator_value false (reported as goal_indicator_missing)
-- amount = listed_count * sek_per_listed_month * fulfilment.
-- Grain: month, vardcentral_hsa_id, goal_order.
with open_vardcentraler as (
    select * from {{ ref('shared__int_vardcentraler_opened') }}
),

months as (
    select * from {{ ref('reimbursement__int_months_versioned') }}
),

goals as (
    select * from {{ ref('stg_model__goals') }}
),

listed_counts as (
    select month, vardcentral_hsa_id, listed_count
    from {{ ref('reimbursement__int_vardcentral_listed_counted') }}
),

indicators as (
    select month, vardcentral_hsa_id, indicator_code, profession, value
    from {{ ref('indicators__int_vardcentral_values_filled') }}
    where sex = 'all'
),

vardcentral_goals as (
    select
        open_vardcentraler.month,
        open_vardcentraler.vardcentral_hsa_id,
        goals.goal_order,
        goals.indicator,
        goals.profession,
        goals.direction,
        goals.payout,
        goals.low,
        goals.high,
        goals.sek_per_listed_month,
        coalesce(listed_counts.listed_count, 0) as listed_count
    from open_vardcentraler
    inner join months on open_vardcentraler.month = months.month
    inner join goals on months.version_id = goals.version_id
    left join listed_counts
        on open_vardcentraler.month = listed_counts.month
            and open_vardcentraler.vardcentral_hsa_id = listed_counts.vardcentral_hsa_id
),

with_values as (
    select
        vardcentral_goals.*,
        indicators.value as indicator_value,
        indicators.value is not null as has_indicator_value
    from vardcentral_goals
    left join indicators
        on vardcentral_goals.month = indicators.month
            and vardcentral_goals.vardcentral_hsa_id = indicators.vardcentral_hsa_id
            and vardcentral_goals.indicator = indicators.indicator_code
            and vardcentral_goals.profession = indicators.profession
),

fulfilment as (
    select
        *,
        case
            when indicator_value is null then 0.0
            when payout = 'all_or_nothing' and direction = 'lower'
                then case when indicator_value <= high then 1.0 else 0.0 end
            when payout = 'all_or_nothing' then case when indicator_value >= high then 1.0 else 0.0 end
            when payout = 'linear' then greatest(0.0, least(1.0, (indicator_value - low) / (high - low)))
        end as fulfilment
    from with_values
),

final as (
    select
        month,
        vardcentral_hsa_id,
        goal_order,
        indicator,
        profession,
        direction,
        payout,
        low,
        high,
        indicator_value,
        fulfilment,
        listed_count,
        sek_per_listed_month,
        listed_count * sek_per_listed_month * fulfilment as amount,
        has_indicator_value
    from fulfilment
)

-- Only the run's months, whatever an upstream view was last compiled with.
select * from final
where month in {{ run_month_list() }}
