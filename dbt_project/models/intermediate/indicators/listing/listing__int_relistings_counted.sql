-- One row per run month M and listed person with at least one relisting change whose later
-- month lies in M-11..M; change_count is the number of such changes. The person is counted
-- at the VC where they are listed at the end of M.
with persons as (
    select * from {{ ref('listing__int_persons_listed') }}
),

changes as (
    select * from {{ ref('listing__int_vc_changes_identified') }}
),

final as (
    select
        persons.month,
        persons.vardcentral_hsa_id,
        persons.person_id,
        persons.sex,
        count(*) as change_count
    from persons
    inner join changes
        on {{ compact_key('changes.person_key') }} = persons.person_id
            and changes.month_start between persons.month_start - interval 11 month and persons.month_start
    group by all
)

select * from final
