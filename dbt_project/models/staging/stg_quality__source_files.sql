with source as (
    select * from {{ source('raw', 'source_files') }}
)

select * from source
