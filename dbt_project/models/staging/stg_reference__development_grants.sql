-- One row per payout month, programme and participating VC; a blank split is 'listed'.
with source as (
    select * from {{ source('raw', 'development_grants') }}
),

final as (
    select
        payout_month,
        programme,
        coalesce(split, 'listed') as split,
        pot_sek,
        hsa_id
    from source
)

select * from final
