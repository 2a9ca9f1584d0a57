-- One row per run month and open VC: type vardcentral, opened_on <= month end, closed_on
-- null or >= month start (SPEC §5), with the registry row valid on the month's last day
-- (SPEC §3.5: owner type, rural tier, cap as they were then). Every row gets indicator rows
-- and a reimbursement row. months_open counts the opening month as month 1.
with months as (
    {{ run_months() }}
),

units as (
    select * from {{ ref('stg_registry__units') }}
    where unit_type = 'vardcentral'
),

final as (
    select
        months.month,
        months.month_start,
        months.month_end,
        units.hsa_id as vardcentral_hsa_id,
        units.owner_type,
        units.rural_tier,
        units.vat_compensation_pct,
        units.opened_on_date,
        units.cap_from_date,
        units.cap_to_date,
        (year(months.month_start) - year(units.opened_on_date)) * 12
        + month(months.month_start) - month(units.opened_on_date) + 1 as months_open
    from months
    inner join units
        on
            {{ registry_row_valid('units', 'months.month_end') }}
            and units.opened_on_date <= months.month_end
            and (units.closed_on_date is null or units.closed_on_date >= months.month_start)
)

select * from final
