-- Step 9. Completed contacts performed at an open VC in the run's months (filials count for
-- their parent through care_unit_hsa_id; jour and digital units are not VCs and earn none),
-- with the patient category (shared__int_contacts_categorised) and the fee of the first
-- matching visit-fee rule (SPEC §6).
-- Rules are resolved once per (version, contact_type, profession) seen in the month: the
-- lowest rule_order whose contact_type and profession are equal or "*". Contacts then get
-- their fee by an equi-join. fee_sek and rule_order are null when no rule matches (reported
-- as visit_fee_no_rule, never priced silently).
-- Grain: one row per contact.
with contacts as (
    select * from {{ ref('shared__int_contacts_categorised') }}
),

open_vardcentraler as (
    select * from {{ ref('shared__int_vardcentraler_opened') }}
),

months as (
    select * from {{ ref('reimbursement__int_months_versioned') }}
),

rules as (
    select * from {{ ref('stg_model__visit_fees') }}
),

categorised as (
    select
        contacts.month,
        contacts.contact_id,
        contacts.care_unit_hsa_id as vardcentral_hsa_id,
        contacts.contact_type,
        contacts.profession,
        contacts.patient_category,
        months.version_id
    from contacts
    inner join open_vardcentraler
        on contacts.month = open_vardcentraler.month
            and contacts.care_unit_hsa_id = open_vardcentraler.vardcentral_hsa_id
    inner join months on contacts.month = months.month
),

pairs as (
    select distinct version_id, contact_type, profession from categorised
),

first_matching_rule as (
    select
        pairs.version_id,
        pairs.contact_type,
        pairs.profession,
        min(rules.rule_order) as rule_order
    from pairs
    inner join rules
        on pairs.version_id = rules.version_id
            and rules.contact_type in ('*', pairs.contact_type)
            and rules.profession in ('*', pairs.profession)
    group by pairs.version_id, pairs.contact_type, pairs.profession
),

fees as (
    select
        first_matching_rule.version_id,
        first_matching_rule.contact_type,
        first_matching_rule.profession,
        rules.rule_order,
        rules.own_listed,
        rules.other_listed,
        rules.not_listed
    from first_matching_rule
    inner join rules
        on first_matching_rule.version_id = rules.version_id
            and first_matching_rule.rule_order = rules.rule_order
),

final as (
    select
        categorised.month,
        categorised.contact_id,
        categorised.vardcentral_hsa_id,
        categorised.contact_type,
        categorised.profession,
        categorised.patient_category,
        fees.rule_order,
        case categorised.patient_category
            when 'own_listed' then fees.own_listed
            when 'other_listed' then fees.other_listed
            when 'not_listed' then fees.not_listed
        end as fee_sek
    from categorised
    left join fees
        on categorised.version_id = fees.version_id
            and categorised.contact_type = fees.contact_type
            and categorised.profession = fees.profession
)

select * from final
