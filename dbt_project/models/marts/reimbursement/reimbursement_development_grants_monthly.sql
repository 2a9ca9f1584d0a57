{{ config(materialized='incremental', incremental_strategy='append', pre_hook="{{ delete_run_months() }}") }}
-- Step 12. Development grants (SPEC §6): in its payout month, each programme's pot is split
-- among its participating VCs that are open that month, in proportion to their listed count
-- (split 'listed', the default; equally when none of them has anyone listed) or the same
-- amount to each (split 'equal'). Several programmes may pay out in one month; pot and split
-- agree on a programme's rows (checked on load). Participants that are not open VCs are reported.
-- Grain: month, vardcentral_hsa_id, programme (participants only; programme null = unnamed).
with grants as (
    select * from {{ ref('stg_reference__development_grants') }}
    where payout_month in {{ run_month_list() }}
),

open_vardcentraler as (
    select * from {{ ref('shared__int_vardcentraler_opened') }}
),

listed_counts as (
    select month, vardcentral_hsa_id, listed_count
    from {{ ref('reimbursement__int_vardcentral_listed_counted') }}
),

participants as (
    select
        grants.payout_month as month,
        grants.hsa_id as vardcentral_hsa_id,
        grants.programme,
        grants.split,
        grants.pot_sek,
        coalesce(listed_counts.listed_count, 0) as listed_count
    from grants
    inner join open_vardcentraler
        on grants.payout_month = open_vardcentraler.month
            and grants.hsa_id = open_vardcentraler.vardcentral_hsa_id
    left join listed_counts
        on grants.payout_month = listed_counts.month
            and grants.hsa_id = listed_counts.vardcentral_hsa_id
),

shares as (
    select
        *,
        sum(listed_count) over programme_month as participants_listed_count,
        count(*) over programme_month as participant_count,
        max(pot_sek) over programme_month as programme_pot_sek,
        max(split) over programme_month as programme_split
    from participants
    window programme_month as (partition by month, programme)
),

final as (
    select
        month,
        vardcentral_hsa_id,
        programme,
        programme_split as split,
        programme_pot_sek as pot_sek,
        participant_count,
        listed_count,
        participants_listed_count,
        case when programme_split = 'listed' and participants_listed_count > 0
                then programme_pot_sek * listed_count / participants_listed_count
            else programme_pot_sek / participant_count
        end as amount
    from shares
)

-- Only the run's months, whatever an upstream view was last compiled with.
select * from final
where month in {{ run_month_list() }}
