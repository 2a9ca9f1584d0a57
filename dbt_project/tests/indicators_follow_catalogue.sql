-- Every indicator row keeps what the catalogue (raw.indicator_catalogue) says of its code:
-- shares and means (COC) lie in [0, 1]; a windowed code's window_months lies in
-- 0..the catalogue's window_months, an unwindowed code has none; the unit basis is the code's.
-- Returns the rows that break it, with the rule they break.
{{ config(severity='error', tags=['indicators', 'ranges']) }}

with indicators as (
    select * from {{ ref('indicators_monthly') }}
),

-- raw.indicator_catalogue by name, not ref(): see macros/vocabulary.sql
catalogue as (
    select * from raw.indicator_catalogue
),

checked as (
    select
        indicators.month, indicators.vardcentral_hsa_id, indicators.indicator_code,
        indicators.sex, indicators.profession, indicators.value, indicators.window_months,
        case
            when catalogue.indicator_code is null then 'code not in the catalogue'
            when catalogue.value_kind in ('share', 'mean') and not indicators.value between 0 and 1
                then 'a share or mean outside [0, 1]'
            when catalogue.window_months is null and indicators.window_months is not null
                then 'window_months for a code without a window'
            when not indicators.window_months between 0 and catalogue.window_months
                then 'window_months outside 0..' || catalogue.window_months
            when indicators.unit_basis <> catalogue.unit_basis then 'unit_basis differs from the catalogue'
        end as problem
    from indicators
    left join catalogue on catalogue.indicator_code = indicators.indicator_code
)

select * from checked where problem is not null
