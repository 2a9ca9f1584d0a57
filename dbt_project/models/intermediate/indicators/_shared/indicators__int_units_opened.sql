-- One row per run month and open VC (type vardcentral, opened_on <= month end,
-- closed_on null or >= month start, in the registry row valid on the month's last day):
-- the VCs that get indicator rows.
with months as (
    {{ run_months() }}
),

units as (
    select * from {{ ref('stg_registry__units') }}
),

final as (
    select
        months.month,
        months.month_start,
        months.month_end,
        units.hsa_id as vardcentral_hsa_id,
        units.cap_from_date,
        units.cap_to_date
    from units
    inner join months
        on {{ registry_row_valid('units', 'months.month_end') }}
        and units.opened_on_date <= months.month_end
        and (units.closed_on_date is null or units.closed_on_date >= months.month_start)
    where units.unit_type = 'vardcentral'
)

select * from final
