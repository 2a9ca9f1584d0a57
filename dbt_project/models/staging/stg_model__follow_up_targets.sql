-- The reimbursement model (reimbursement_model.yaml), loaded and validated by sources/reimbursement_model.py.
with source as (
    select * from {{ source('raw', 'model_follow_up_targets') }}
)

select * from source
