{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_run_months() }}") }}
-- Development grants paid per open VC, month and programme (SPEC §6): the programme's pot,
-- its split and the VC's share of it. Grain: month, vardcentral_hsa_id, programme.
with grants_split as (
    select * from {{ ref('reimbursement__int_development_grants_split') }}
),

final as (
    select
        month,
        vardcentral_hsa_id,
        programme,
        split,
        pot_sek,
        participant_count,
        listed_count,
        participants_listed_count,
        development_grant as amount
    from grants_split
)

-- Only the run's months, whatever an upstream view was last compiled with.
select * from final
where month in {{ run_month_list() }}
