{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_run_months() }}") }}
-- What the reimbursement computation had to default or could not price, per VC and month, so
-- nothing is hidden (SPEC §6, §10.1). item_count counts persons, contacts, goals or grant rows:
--   no_model_version            open VCs' month has no model version valid on its first day (1 per VC)
--   capitation_band_missing     listed persons whose age/sex found no capitation amount
--   acg_weight_missing          listed persons without an ACG weight (counted with weight 1.0)
--   cni_area_unknown            listed persons whose DeSO has no CNI (counted as 1.0)
--   listed_at_unit_not_open     listed persons at a unit that is not an open VC (no VC row)
--   visit_fee_no_rule           completed contacts no visit-fee rule matched (paid 0)
--   goal_indicator_missing      goals whose indicator had no value for the VC (paid 0)
--   geography_tier_unknown      the VC's rural_tier has no geography amount (paid 0)
--   development_grant_unit_not_open  grant rows for a unit that is not an open VC that month
--   development_grant_pot_differs    grant rows of one programme and payout month with different
--                                    pot_sek or split (rejected on load; raw rows written otherwise)
--   extra_assignment_unit_not_open   extra assignments valid on the month's first day for a unit
--                                    that is not an open VC that month (paid nothing)
-- Grain: month, vardcentral_hsa_id, exception; only item_count > 0.
with months as (
    select * from {{ ref('reimbursement__int_months_versioned') }}
),

open_vardcentraler as (
    select * from {{ ref('shared__int_vardcentraler_opened') }}
),

person_factors as (
    select * from {{ ref('reimbursement__int_person_factors_joined') }}
),

contacts_priced as (
    select * from {{ ref('reimbursement__int_contacts_priced') }}
),

goal_fulfilment as (
    select * from {{ ref('reimbursement_goals_monthly') }}
    where month in {{ run_month_list() }}
),

geography as (
    select * from {{ ref('stg_model__geography') }}
),

grants as (
    select * from {{ ref('stg_reference__development_grants') }}
    where payout_month in {{ run_month_list() }}
),

extra_assignments as (
    select * from {{ ref('stg_reference__extra_assignments') }}
),

no_model_version as (
    select
        open_vardcentraler.month, open_vardcentraler.vardcentral_hsa_id,
        'no_model_version' as exception, 1 as item_count
    from open_vardcentraler
    inner join months on open_vardcentraler.month = months.month
    where months.version_id is null
),

person_counts as (
    select
        month,
        vardcentral_hsa_id,
        count(*) filter (where version_id is not null and capitation_sek_year is null) as capitation_band_missing,
        count(*) filter (where not has_acg_weight) as acg_weight_missing,
        count(*) filter (where not has_area_cni) as cni_area_unknown
    from person_factors
    group by month, vardcentral_hsa_id
),

person_exceptions as (
    select month, vardcentral_hsa_id, 'capitation_band_missing' as exception, capitation_band_missing as item_count
    from person_counts
    where capitation_band_missing > 0
    union all
    select month, vardcentral_hsa_id, 'acg_weight_missing', acg_weight_missing
    from person_counts
    where acg_weight_missing > 0
    union all
    select month, vardcentral_hsa_id, 'cni_area_unknown', cni_area_unknown
    from person_counts
    where cni_area_unknown > 0
),

listed_at_unit_not_open as (
    select
        person_factors.month, person_factors.vardcentral_hsa_id,
        'listed_at_unit_not_open' as exception, count(*) as item_count
    from person_factors
    left join open_vardcentraler
        on person_factors.month = open_vardcentraler.month
            and person_factors.vardcentral_hsa_id = open_vardcentraler.vardcentral_hsa_id
    where open_vardcentraler.vardcentral_hsa_id is null
    group by person_factors.month, person_factors.vardcentral_hsa_id
),

visit_fee_no_rule as (
    select month, vardcentral_hsa_id, 'visit_fee_no_rule' as exception, count(*) as item_count
    from contacts_priced
    where rule_order is null
    group by month, vardcentral_hsa_id
),

goal_indicator_missing as (
    select month, vardcentral_hsa_id, 'goal_indicator_missing' as exception, count(*) as item_count
    from goal_fulfilment
    where not has_indicator_value
    group by month, vardcentral_hsa_id
),

geography_tier_unknown as (
    select
        open_vardcentraler.month, open_vardcentraler.vardcentral_hsa_id,
        'geography_tier_unknown' as exception, 1 as item_count
    from open_vardcentraler
    inner join months on open_vardcentraler.month = months.month
    left join geography
        on months.version_id = geography.version_id
            and open_vardcentraler.rural_tier = geography.rural_tier
    where months.version_id is not null and geography.rural_tier is null
),

development_grant_unit_not_open as (
    select
        grants.payout_month as month, grants.hsa_id as vardcentral_hsa_id,
        'development_grant_unit_not_open' as exception, count(*) as item_count
    from grants
    left join open_vardcentraler
        on grants.payout_month = open_vardcentraler.month
            and grants.hsa_id = open_vardcentraler.vardcentral_hsa_id
    where open_vardcentraler.vardcentral_hsa_id is null
    group by grants.payout_month, grants.hsa_id
),

differing_programmes as (
    select
        payout_month,
        programme
    from grants
    group by payout_month, programme
    having min(pot_sek) <> max(pot_sek) or min(split) <> max(split)
),

development_grant_pot_differs as (
    select
        grants.payout_month as month,
        grants.hsa_id as vardcentral_hsa_id,
        'development_grant_pot_differs' as exception,
        count(*) as item_count
    from grants
    inner join differing_programmes
        on
            grants.payout_month = differing_programmes.payout_month
            and grants.programme is not distinct from differing_programmes.programme
    group by grants.payout_month, grants.hsa_id
),

extra_assignment_unit_not_open as (
    select
        months.month, extra_assignments.hsa_id as vardcentral_hsa_id,
        'extra_assignment_unit_not_open' as exception, count(*) as item_count
    from months
    inner join extra_assignments
        on months.month_start >= extra_assignments.valid_from
            and (extra_assignments.valid_to is null or months.month_start <= extra_assignments.valid_to)
    left join open_vardcentraler
        on months.month = open_vardcentraler.month
            and extra_assignments.hsa_id = open_vardcentraler.vardcentral_hsa_id
    where open_vardcentraler.vardcentral_hsa_id is null
    group by months.month, extra_assignments.hsa_id
),

final as (
    select * from no_model_version
    union all
    select * from person_exceptions
    union all
    select * from listed_at_unit_not_open
    union all
    select * from visit_fee_no_rule
    union all
    select * from goal_indicator_missing
    union all
    select * from geography_tier_unknown
    union all
    select * from development_grant_unit_not_open
    union all
    select * from development_grant_pot_differs
    union all
    select * from extra_assignment_unit_not_open
)

-- Only the run's months, whatever an upstream view was last compiled with.
select month, vardcentral_hsa_id, exception, cast(item_count as bigint) as item_count
from final
where month in {{ run_month_list() }}
