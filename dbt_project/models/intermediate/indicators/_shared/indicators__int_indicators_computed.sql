-- The computed parts of every indicator, long and sparse: one row per run month, VC,
-- indicator code, sex (female, male, or null when unknown: reserve numbers, and calls) and
-- profession (`all`, or the profession for the assessment split) where there is something
-- to count, from each domain's step. numerator / denominator are additive, so the next step
-- can sum them into sex `all` and the mart into the REGION row (listed_per_named_gp brings
-- its own `all` rows). Zero rows, open VCs without data and nulls are filled in
-- indicators__int_vardcentral_values_filled.
with listing_indicators as (
    select * from {{ ref('listing__int_listing_indicators_counted') }}
),

contact_indicators as (
    select * from {{ ref('contacts__int_contact_indicators_counted') }}
),

assessment_indicators as (
    select * from {{ ref('accessibility__int_assessment_indicators_counted') }}
),

phone_indicators as (
    select * from {{ ref('accessibility__int_phone_indicators_counted') }}
),

continuity_indicators as (
    select * from {{ ref('continuity__int_continuity_indicators_counted') }}
),

final as (
    select * from listing_indicators
    union all
    select * from contact_indicators
    union all
    select * from assessment_indicators
    union all
    select * from phone_indicators
    union all
    select * from continuity_indicators
)

select * from final
