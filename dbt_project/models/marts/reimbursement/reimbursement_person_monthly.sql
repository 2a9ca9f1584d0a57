{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_run_months() }}") }}
-- Each listed person's person-based components per month (SPEC §6): the rows every VC's
-- capitation, acg, cni and sabo add up from. Published; carries no personnummer.
-- Grain: month, person_key.
with person_amounts as (
    select * from {{ ref('reimbursement__int_person_amounts_computed') }}
),

final as (
    select
        month,
        person_key,
        vardcentral_hsa_id,
        sex,
        age,
        age_band,
        capitation_band,
        capitation,
        acg,
        cni,
        sabo
    from person_amounts
)

-- Only the run's months, whatever an upstream view was last compiled with.
select * from final
where month in {{ run_month_list() }}
