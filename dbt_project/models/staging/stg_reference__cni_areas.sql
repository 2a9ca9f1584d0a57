with source as (
    select * from {{ source('raw', 'cni_areas') }}
)

select * from source
