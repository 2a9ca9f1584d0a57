{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_run_months() }}"
    )
}}
-- Per month, source file and quarantine reason: what reading the current delivery found.
-- One row per (file, reason); a file with nothing quarantined has one row with reason null
-- and reason_rows 0. Quarantine rows without a current delivery row (e.g. a file-level
-- failure) keep their file with null sha256 and counts.
with source_files as (
    select * from {{ ref('stg_quality__source_files') }}
    where month in {{ run_month_list() }}
),

quarantine as (
    select * from {{ ref('stg_quality__quarantine') }}
    where month in {{ run_month_list() }}
),

reasons as (
    select month, source, source_file, reason, count(*) as reason_rows
    from quarantine
    group by all
),

final as (
    select
        coalesce(source_files.month, reasons.month) as month,
        coalesce(source_files.source, reasons.source) as source,
        coalesce(source_files.source_file, reasons.source_file) as source_file,
        reasons.reason,
        source_files.sha256,
        source_files.rows_read,
        source_files.rows_accepted,
        source_files.rows_quarantined,
        coalesce(reasons.reason_rows, 0) as reason_rows
    from source_files
    full outer join reasons
        on source_files.month = reasons.month
            and source_files.source = reasons.source
            and source_files.source_file = reasons.source_file
)

select * from final
