{{ config(materialized='table') }}
-- Step 6. Each listed person-month (shared__int_person_months_listed) with what prices it:
-- the month's model version, its capitation band (beside the fixed reporting band of
-- SPEC §10.1) and the band's annual amount for the person's sex, the ACG weight and the area
-- CNI of the year the month uses. Missing ACG weight or unknown area stays null here (flags
-- say so); the person amounts (reimbursement_person_monthly) apply the defaults of SPEC §6
-- (weight 1.0, CNI 1.0) and the exceptions mart reports them.
-- Grain: month, person_key. Only equi-joins. A table (the run's months only), because the VC
-- CNI, the person amounts and the exceptions all read it: the joins run once per run.
with persons as (
    select * from {{ ref('shared__int_person_months_listed') }}
),

months as (
    select * from {{ ref('reimbursement__int_months_versioned') }}
),

reference_years as (
    select * from {{ ref('reimbursement__int_reference_years_selected') }}
),

capitation as (
    select * from {{ ref('reimbursement__int_capitation_ages_expanded') }}
),

acg_weights as (
    select * from {{ ref('stg_reference__acg_weights') }}
),

reporting_ages as (
    select * from {{ ref('indicators__int_reporting_ages_expanded') }}
),

cni_areas as (
    select * from {{ ref('stg_reference__cni_areas') }}
),

final as (
    select
        persons.month,
        persons.person_key,
        persons.vardcentral_hsa_id,
        persons.sex,
        persons.age,
        persons.is_sabo,
        months.version_id,
        reporting_ages.age_band,
        capitation.capitation_band,
        case persons.sex when 'female' then capitation.female_sek_year
            when 'male' then capitation.male_sek_year
        end as capitation_sek_year,
        acg_weights.acg_weight,
        acg_weights.acg_weight is not null as has_acg_weight,
        cni_areas.cni as area_cni,
        cni_areas.cni is not null as has_area_cni
    from persons
    inner join months on persons.month = months.month
    inner join reference_years on persons.month = reference_years.month
    left join capitation
        on months.version_id = capitation.version_id
            and capitation.age = least(persons.age, 120)
    left join reporting_ages on reporting_ages.age = least(persons.age, 130)
    left join acg_weights
        on persons.person_key = acg_weights.person_key
            and reference_years.acg_year = acg_weights.year
    left join cni_areas
        on persons.deso = cni_areas.deso
            and reference_years.cni_year = cni_areas.year
)

select * from final
