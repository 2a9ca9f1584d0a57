with source as (
    select * from {{ source('raw', 'acg_weights') }}
)

select * from source
