-- Extra assignments (tilläggsuppdrag), validated on load by sources/reference.py.
with source as (
    select * from {{ source('raw', 'extra_assignments') }}
)

select * from source
