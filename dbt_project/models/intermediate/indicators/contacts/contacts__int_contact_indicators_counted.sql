-- The contact indicators' parts per run month, VC and sex (SPEC §5): the distance and video
-- shares of the contacts a care unit performed, visits_elsewhere (the listed persons' visits
-- at another care unit, counted at the listing VC) and coverage_ratio (the listed persons'
-- contacts at their VC over their contacts anywhere, in a 6-month window).
with contacts as (
    select * from {{ ref('shared__int_contacts_categorised') }}
),

coverage as (
    select * from {{ ref('contacts__int_coverage_persons_counted') }}
),

performed as (
    select
        month,
        care_unit_hsa_id as vardcentral_hsa_id,
        sex,
        count(*) filter (where contact_type in ('telefon', 'video', 'chatt')) as distance_count,
        count(*) filter (where contact_type = 'video') as video_count,
        count(*) as contact_count
    from contacts
    group by all
),

performed_shares as (
    select
        month,
        vardcentral_hsa_id,
        'distance_contact_share' as indicator_code,
        sex,
        distance_count as numerator,
        contact_count as denominator
    from performed
    union all
    select month, vardcentral_hsa_id, 'video_contact_share', sex, video_count, contact_count
    from performed
),

visits_elsewhere as (
    select
        month,
        listing_vardcentral_hsa_id as vardcentral_hsa_id,
        'visits_elsewhere' as indicator_code,
        sex,
        count(*) filter (where care_unit_hsa_id <> listing_vardcentral_hsa_id) as numerator,
        count(*) as denominator
    from contacts
    where contact_type = 'besok' and listing_vardcentral_hsa_id is not null
    group by all
),

coverage_ratio as (
    select
        month,
        vardcentral_hsa_id,
        'coverage_ratio' as indicator_code,
        sex,
        sum(contacts_here) as numerator,
        sum(contacts_any) as denominator
    from coverage
    group by all
),

unioned as (
    select * from performed_shares
    union all
    select * from visits_elsewhere
    union all
    select * from coverage_ratio
),

final as (
    select
        month,
        vardcentral_hsa_id,
        indicator_code,
        sex,
        'all' as profession,
        cast(numerator as double) as numerator,
        cast(denominator as bigint) as denominator
    from unioned
)

select * from final
