-- Step 12. Development grants (SPEC §6): in its payout month, the pot is split among the
-- participating VCs that are open that month, in proportion to their listed count (equally
-- when none of them has anyone listed). Participants that are not open VCs are reported.
-- Grain: month, vardcentral_hsa_id (participants only).
with grants as (
    select * from {{ ref('stg_reference__development_grants') }}
    where payout_month in {{ run_month_list() }}
),

open_vardcentraler as (
    select * from {{ ref('reimbursement__int_vardcentraler_opened') }}
),

listed_counts as (
    select month, vardcentral_hsa_id, listed_count
    from {{ ref('reimbursement__int_vardcentral_listed_counted') }}
),

participants as (
    select
        grants.payout_month as month,
        grants.hsa_id as vardcentral_hsa_id,
        grants.pot_sek,
        coalesce(listed_counts.listed_count, 0) as listed_count
    from grants
    inner join open_vardcentraler
        on open_vardcentraler.month = grants.payout_month
        and open_vardcentraler.vardcentral_hsa_id = grants.hsa_id
    left join listed_counts
        on listed_counts.month = grants.payout_month
        and listed_counts.vardcentral_hsa_id = grants.hsa_id
),

shares as (
    select
        *,
        sum(listed_count) over (partition by month) as participants_listed_count,
        count(*) over (partition by month) as participant_count,
        max(pot_sek) over (partition by month) as month_pot_sek
    from participants
),

final as (
    select
        month,
        vardcentral_hsa_id,
        listed_count,
        participants_listed_count,
        month_pot_sek as pot_sek,
        case when participants_listed_count > 0
             then month_pot_sek * listed_count / participants_listed_count
             else month_pot_sek / participant_count end as development_grant
    from shares
)

select * from final
