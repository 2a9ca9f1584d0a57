{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_run_months() }}") }}
-- Step 8. The person-based components per listed person and month (SPEC §6), unrounded:
--   capitation = band's annual amount for the person's sex / 12
--   acg        = coalesce(acg_weight, 1.0) * acg_sek_per_weight_year / 12
--   cni        = cni_sek_per_listed_year / 12 * the VC's CNI   (so Σ persons = VC figure)
--   sabo       = sabo_sek_per_resident_month for SÄBO residents, else 0
-- Published: the rows every VC's capitation, acg, cni and sabo add up from; carries no
-- personnummer. Grain: month, person_key.
with persons as (
    select * from {{ ref('reimbursement__int_person_factors_joined') }}
),

vardcentral_cni as (
    select * from {{ ref('reimbursement__int_vardcentral_cni_averaged') }}
),

months as (
    select * from {{ ref('reimbursement__int_months_versioned') }}
),

final as (
    select
        persons.month,
        persons.person_key,
        persons.vardcentral_hsa_id,
        persons.sex,
        persons.age,
        persons.age_band,
        persons.capitation_band,
        persons.capitation_sek_year / 12.0 as capitation,
        coalesce(persons.acg_weight, 1.0) * months.acg_sek_per_weight_year / 12.0 as acg,
        months.cni_sek_per_listed_year / 12.0 * vardcentral_cni.vardcentral_cni as cni,
        case when persons.is_sabo then months.sabo_sek_per_resident_month else 0.0 end as sabo
    from persons
    inner join months on persons.month = months.month
    inner join vardcentral_cni
        on persons.month = vardcentral_cni.month
            and persons.vardcentral_hsa_id = vardcentral_cni.vardcentral_hsa_id
)

-- Only the run's months, whatever an upstream view was last compiled with.
select * from final
where month in {{ run_month_list() }}
