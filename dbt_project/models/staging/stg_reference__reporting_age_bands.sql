-- Shipped with the code (written by core/warehouse.py from sources/): see _staging.yml.
with source as (
    select * from {{ source('raw', 'reporting_age_bands') }}
)

select * from source
