-- The reimbursement model (reimbursement_model.yaml), loaded and validated by sources/reimbursement_model.py.
with source as (
    select * from {{ source('raw', 'model_goals') }}
),

final as (
    select
        version_id,
        goal_order,
        indicator,
        profession,
        coalesce(direction, 'higher') as direction,
        payout,
        low,
        high,
        sek_per_listed_month
    from source
)

select * from final
