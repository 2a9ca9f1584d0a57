with source as (
    select * from {{ source('raw', 'development_grants') }}
)

select * from source
