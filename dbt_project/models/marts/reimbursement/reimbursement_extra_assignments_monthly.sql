{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_run_months() }}") }}
-- Extra assignments (tilläggsuppdrag) paid per open VC and month (SPEC §6): every assignment of
-- extra_assignments.csv whose inclusive validity holds the month's first day pays its
-- sek_per_month. Assignments of a VC that is not open that month pay nothing and are reported
-- in reimbursement_exceptions_monthly. Grain: month, vardcentral_hsa_id, assignment, valid_from.
with open_vardcentraler as (
    select * from {{ ref('shared__int_vardcentraler_opened') }}
),

months as (
    select * from {{ ref('reimbursement__int_months_versioned') }}
),

assignments as (
    select * from {{ ref('stg_reference__extra_assignments') }}
),

final as (
    select
        open_vardcentraler.month,
        open_vardcentraler.vardcentral_hsa_id,
        assignments.assignment,
        assignments.valid_from,
        assignments.valid_to,
        assignments.sek_per_month as amount
    from open_vardcentraler
    inner join months on open_vardcentraler.month = months.month
    inner join assignments
        on open_vardcentraler.vardcentral_hsa_id = assignments.hsa_id
            and months.month_start >= assignments.valid_from
            and (assignments.valid_to is null or months.month_start <= assignments.valid_to)
)

-- Only the run's months, whatever an upstream view was last compiled with.
select * from final
where month in {{ run_month_list() }}
