-- The indicator catalogue of SPEC §5 (core/indicator_catalogue.csv, loaded as
-- raw.indicator_catalogue): one row per indicator code with how it is computed and split.
-- value_kind: count (numerator = value, no denominator), share (numerator / denominator),
-- mean (continuity: Σ person COC / persons) or ratio. window_kind names the window whose
-- presence fills window_months (null: none).
with catalogue as (
    select * from {{ ref('stg_reference__indicator_catalogue') }}
),

final as (
    select
        indicator_code,
        unit_basis,
        value_kind,
        window_kind,
        is_split_by_sex,
        is_split_by_profession,
        sort_order
    from catalogue
)

select * from final
