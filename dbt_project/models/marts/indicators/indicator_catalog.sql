{{ config(materialized='table') }}
-- The indicator catalogue as published (SPEC §7): one row per indicator code, from the one home
-- of the codes (core/indicator_catalogue.csv, loaded into raw.indicator_catalogue).
with catalogue as (
    select * from {{ ref('stg_reference__indicator_catalogue') }}
),

final as (
    select
        indicator_code,
        name_sv,
        description,
        unit_basis,
        value_kind,
        period_kind,
        window_kind,
        window_months,
        higher_is_better,
        is_split_by_sex,
        is_split_by_profession,
        sort_order
    from catalogue
)

select * from final
