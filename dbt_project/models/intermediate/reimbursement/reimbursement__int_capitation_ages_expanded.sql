-- Step 4. The capitation bands of every model version spelled out per whole year of age
-- 0..120 (older persons use 120), so persons find their band by a plain equi-join on
-- (version_id, age) instead of a range join over 10 million rows.
-- Grain: version_id, age.
with bands as (
    select * from {{ ref('stg_model__capitation') }}
),

ages as (
    select cast(range as integer) as age from range(0, 121)
),

final as (
    select
        bands.version_id,
        ages.age,
        case when bands.age_to is null then bands.age_from || '+'
            else bands.age_from || '-' || bands.age_to
        end as capitation_band,
        bands.female_sek_year,
        bands.male_sek_year
    from bands
    inner join ages
        on bands.age_from <= ages.age
            and (bands.age_to is null or bands.age_to >= ages.age)
)

select * from final
