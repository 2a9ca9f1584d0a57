-- Extra assignments (tilläggsuppdrag), validated on load by validations/contracts/reference.py.
with source as (
    select * from {{ source('raw', 'extra_assignments') }}
)

select * from source
