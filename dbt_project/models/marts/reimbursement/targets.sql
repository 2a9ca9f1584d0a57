{{ config(materialized='table') }}
-- Every target of every model version (SPEC §7, §10.1): the goals that pay (§6) and the
-- follow-up targets that pay nothing, with their levels and direction, from the region's own
-- reimbursement_model.yaml (raw.model_goals, raw.model_follow_up_targets).
with versions as (
    select * from {{ ref('stg_model__versions') }}
),

goals as (
    select * from {{ ref('stg_model__goals') }}
),

follow_up_targets as (
    select * from {{ ref('stg_model__follow_up_targets') }}
),

all_targets as (
    select
        version_id,
        'goal' as target_kind,
        goal_order as target_order,
        indicator,
        profession,
        direction,
        true as is_paying,
        payout,
        low,
        high,
        sek_per_listed_month
    from goals
    union all
    select
        version_id,
        'follow_up' as target_kind,
        target_order,
        indicator,
        profession,
        direction,
        false as is_paying,
        cast(null as varchar) as payout,
        low,
        high,
        cast(null as double) as sek_per_listed_month
    from follow_up_targets
),

final as (
    select
        versions.version_id as model_version_id,
        versions.valid_from as model_valid_from,
        all_targets.target_kind,
        all_targets.target_order,
        all_targets.indicator as indicator_code,
        all_targets.profession,
        all_targets.direction,
        all_targets.is_paying,
        all_targets.payout,
        all_targets.low,
        all_targets.high,
        all_targets.sek_per_listed_month
    from all_targets
    inner join versions on all_targets.version_id = versions.version_id
)

select * from final
