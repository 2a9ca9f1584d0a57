-- The reimbursement model (reimbursement_model.yaml), loaded and validated by sources/reimbursement_model.py.
with source as (
    select * from {{ source('raw', 'model_deductions') }}
)

select * from source
