-- One row per person listed at a VC at the end of a month.
with source as (
    select * from {{ source('raw', 'listing') }}
),

final as (
    select
        month,
        cast(month || '-01' as date) as month_start,
        cast(cast(month || '-01' as date) + interval 1 month - interval 1 day as date) as month_end,
        person_key,
        sex,
        birth_date,
        vardcentral_hsa_id,
        listed_from as listed_from_date,
        listing_type,
        listing_type = 'aktiv' as is_active_choice,
        fast_lakare_hsa_id,
        fast_lakare_hsa_id is not null as has_fast_lakare,
        is_sabo,
        deso,
        source_file,
        source_line
    from source
)

select * from final
