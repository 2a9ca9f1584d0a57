-- Step 1. The run's months with the model version valid on each month's first day (SPEC §3.5).
-- Grain: one row per month of the run (month_from..month_to). A month no version covers keeps
-- its row with a null version_id (reported in reimbursement_exceptions_monthly, and the marts'
-- not_null test on model_version_id fails the build).
with run_months as (
    {{ run_months() }}
),

versions as (
    select * from {{ ref('stg_model__versions') }}
),

final as (
    select
        run_months.month,
        run_months.month_start,
        run_months.month_end,
        year(run_months.month_start) as month_year,
        versions.version_id,
        versions.valid_from as model_valid_from,
        versions.acg_sek_per_weight_year,
        versions.cni_sek_per_listed_year,
        versions.sabo_sek_per_resident_month,
        versions.start_grant_sek_per_month,
        versions.start_grant_months,
        versions.vat_compensation_pct
    from run_months
    left join versions
        on run_months.month_start >= versions.valid_from
            and (versions.valid_to is null or run_months.month_start <= versions.valid_to)
)

select * from final
