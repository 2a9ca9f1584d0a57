{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_run_months() }}") }}
-- Visit fees per performing VC (filials as parent), contact type, profession and patient
-- category, with the rule that priced them (SPEC §6). rule_order and fee_sek are null, and
-- amount 0, for contacts no rule matched (reported as visit_fee_no_rule).
-- Grain: month, vardcentral_hsa_id, contact_type, profession, patient_category.
with contacts_priced as (
    select * from {{ ref('reimbursement__int_contacts_priced') }}
),

final as (
    select
        month,
        vardcentral_hsa_id,
        contact_type,
        profession,
        patient_category,
        count(*) as contact_count,
        any_value(fee_sek) as fee_sek,
        coalesce({{ exact_sum('fee_sek') }}, 0.0) as amount,
        any_value(rule_order) as rule_order
    from contacts_priced
    group by month, vardcentral_hsa_id, contact_type, profession, patient_category
)

-- Only the run's months, whatever an upstream view was last compiled with.
select * from final
where month in {{ run_month_list() }}
