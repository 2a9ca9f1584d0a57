{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_run_months() }}") }}
-- Goal-related payment per open VC, month and goal: the indicator value, fulfilment and amount
-- (SPEC §6). Grain: month, vardcentral_hsa_id, goal_order.
with goal_fulfilment as (
    select * from {{ ref('reimbursement__int_goals_fulfilled') }}
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
        amount,
        has_indicator_value
    from goal_fulfilment
)

-- Only the run's months, whatever an upstream view was last compiled with.
select * from final
where month in {{ run_month_list() }}
