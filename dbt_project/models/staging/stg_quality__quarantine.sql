with source as (
    select * from {{ source('raw', 'quarantine') }}
)

select * from source
