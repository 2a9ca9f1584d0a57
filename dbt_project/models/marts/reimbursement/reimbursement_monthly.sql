{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_run_months() }}") }}
-- The reimbursement base (ersättningsunderlag) per open VC and month, one column per component
-- of SPEC §6, unrounded SEK. Person-based components are the sums of reimbursement_person_monthly,
-- visit fees, goal payments, extra assignments and development grants the sums of their
-- supporting marts, the deduction the sum of its per-unit-type rows, so every figure traces down.
-- vat_compensation = vat_compensation_pct / 100 * the sum of the components before it (privat
-- only; the registry's rate for the VC where it gives one, else the model's);
-- total = the sum of all components. Grain: month, vardcentral_hsa_id (every open VC).
with open_vardcentraler as (
    select * from {{ ref('shared__int_vardcentraler_opened') }}
),

months as (
    select * from {{ ref('reimbursement__int_months_versioned') }}
),

geography as (
    select * from {{ ref('stg_model__geography') }}
),

person_sums as (
    select
        month,
        vardcentral_hsa_id,
        count(*) as listed_count,
        {{ exact_sum('capitation') }} as capitation,
        {{ exact_sum('acg') }} as acg,
        {{ exact_sum('cni') }} as cni,
        {{ exact_sum('sabo') }} as sabo
    from {{ ref('reimbursement_person_monthly') }}
    where month in {{ run_month_list() }}
    group by month, vardcentral_hsa_id
),

visit_fees as (
    select month, vardcentral_hsa_id, {{ exact_sum('amount') }} as visit_fees
    from {{ ref('reimbursement_visit_fees_monthly') }}
    where month in {{ run_month_list() }}
    group by month, vardcentral_hsa_id
),

goal_payments as (
    select month, vardcentral_hsa_id, {{ exact_sum('amount') }} as goal_payment
    from {{ ref('reimbursement_goals_monthly') }}
    where month in {{ run_month_list() }}
    group by month, vardcentral_hsa_id
),

visits_elsewhere as (
    select month, vardcentral_hsa_id, {{ exact_sum('amount') }} as visits_elsewhere_deduction
    from {{ ref('reimbursement__int_visits_elsewhere_counted') }}
    group by month, vardcentral_hsa_id
),

extra_assignments as (
    select month, vardcentral_hsa_id, {{ exact_sum('amount') }} as extra_assignments
    from {{ ref('reimbursement_extra_assignments_monthly') }}
    where month in {{ run_month_list() }}
    group by month, vardcentral_hsa_id
),

development_grants as (
    select month, vardcentral_hsa_id, {{ exact_sum('amount') }} as development_grant
    from {{ ref('reimbursement_development_grants_monthly') }}
    where month in {{ run_month_list() }}
    group by month, vardcentral_hsa_id
),

components as (
    select
        open_vardcentraler.month,
        open_vardcentraler.vardcentral_hsa_id,
        open_vardcentraler.owner_type,
        months.version_id as model_version_id,
        months.model_valid_from,
        coalesce(person_sums.listed_count, 0) as listed_count,
        coalesce(person_sums.capitation, 0.0) as capitation,
        coalesce(person_sums.acg, 0.0) as acg,
        coalesce(person_sums.cni, 0.0) as cni,
        coalesce(geography.sek_per_month, 0.0) as geography,
        coalesce(person_sums.sabo, 0.0) as sabo,
        coalesce(visit_fees.visit_fees, 0.0) as visit_fees,
        coalesce(visits_elsewhere.visits_elsewhere_deduction, 0.0) as visits_elsewhere_deduction,
        coalesce(goal_payments.goal_payment, 0.0) as goal_payment,
        case when open_vardcentraler.months_open between 1 and months.start_grant_months
                then months.start_grant_sek_per_month
            else 0.0
        end as start_grant,
        coalesce(extra_assignments.extra_assignments, 0.0) as extra_assignments,
        coalesce(development_grants.development_grant, 0.0) as development_grant,
        case when open_vardcentraler.owner_type = 'privat'
                then coalesce(open_vardcentraler.vat_compensation_pct, months.vat_compensation_pct, 0.0) / 100.0
            else 0.0
        end as vat_rate
    from open_vardcentraler
    inner join months on open_vardcentraler.month = months.month
    left join geography
        on months.version_id = geography.version_id
            and open_vardcentraler.rural_tier = geography.rural_tier
    left join person_sums
        on open_vardcentraler.month = person_sums.month
            and open_vardcentraler.vardcentral_hsa_id = person_sums.vardcentral_hsa_id
    left join visit_fees
        on open_vardcentraler.month = visit_fees.month
            and open_vardcentraler.vardcentral_hsa_id = visit_fees.vardcentral_hsa_id
    left join goal_payments
        on open_vardcentraler.month = goal_payments.month
            and open_vardcentraler.vardcentral_hsa_id = goal_payments.vardcentral_hsa_id
    left join visits_elsewhere
        on open_vardcentraler.month = visits_elsewhere.month
            and open_vardcentraler.vardcentral_hsa_id = visits_elsewhere.vardcentral_hsa_id
    left join extra_assignments
        on open_vardcentraler.month = extra_assignments.month
            and open_vardcentraler.vardcentral_hsa_id = extra_assignments.vardcentral_hsa_id
    left join development_grants
        on open_vardcentraler.month = development_grants.month
            and open_vardcentraler.vardcentral_hsa_id = development_grants.vardcentral_hsa_id
),

with_vat as (
    select
        *,
        vat_rate * (
            capitation + acg + cni + geography + sabo + visit_fees + visits_elsewhere_deduction
            + goal_payment + start_grant + extra_assignments + development_grant
        ) as vat_compensation
    from components
),

final as (
    select
        month,
        vardcentral_hsa_id,
        owner_type,
        model_version_id,
        model_valid_from,
        listed_count,
        capitation,
        acg,
        cni,
        geography,
        sabo,
        visit_fees,
        visits_elsewhere_deduction,
        goal_payment,
        start_grant,
        extra_assignments,
        development_grant,
        vat_compensation,
        capitation + acg + cni + geography + sabo + visit_fees + visits_elsewhere_deduction
        + goal_payment + start_grant + extra_assignments + development_grant + vat_compensation as total
    from with_vat
)

-- Only the run's months, whatever an upstream view was last compiled with.
select * from final
where month in {{ run_month_list() }}
