-- One row per call to the callback system; filial calls count for the parent VC (the
-- registry row valid at the end of the call's month).
with source as (
    select * from {{ source('raw', 'telephony') }}
),

units as (
    select * from {{ ref('stg_registry__units') }}
),

final as (
    select
        source.month,
        source.call_id,
        source.vardcentral_hsa_id as unit_hsa_id,
        units.unit_type,
        coalesce(units.care_unit_hsa_id, source.vardcentral_hsa_id) as care_unit_hsa_id,
        source.called_at,
        cast(source.called_at as date) as called_date,
        source.queue,
        source.outcome,
        source.callback_at,
        source.is_in_opening_hours,
        source.source_file,
        source.source_line
    from source
    left join units
        on source.vardcentral_hsa_id = units.hsa_id
            and {{ registry_row_valid('units', month_end_of('source.month')) }}
)

select * from final
