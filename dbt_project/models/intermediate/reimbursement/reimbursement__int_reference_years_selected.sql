-- Step 2. Which year of cni_areas and acg_weights each run month uses (SPEC §3.5): per file,
-- the latest `year` present that is not after the month's year; null when the file has none.
-- Grain: one row per run month.
with months as (
    select * from {{ ref('reimbursement__int_months_versioned') }}
),

cni_years as (
    select distinct year from {{ ref('stg_reference__cni_areas') }}
),

acg_years as (
    select distinct year from {{ ref('stg_reference__acg_weights') }}
),

cni_year_per_month as (
    select months.month, max(cni_years.year) as cni_year
    from months
    left join cni_years on months.month_year >= cni_years.year
    group by months.month
),

acg_year_per_month as (
    select months.month, max(acg_years.year) as acg_year
    from months
    left join acg_years on months.month_year >= acg_years.year
    group by months.month
),

final as (
    select
        cni_year_per_month.month,
        cni_year_per_month.cni_year,
        acg_year_per_month.acg_year
    from cni_year_per_month
    inner join acg_year_per_month on cni_year_per_month.month = acg_year_per_month.month
)

select * from final
