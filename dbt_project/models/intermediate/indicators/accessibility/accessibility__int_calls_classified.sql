-- One row per call of a run month, classified for phone_same_day_share:
--   is_counted          queue sjukvardsradgivning or tidsbokning, and in opening hours
--   is_handled_same_day answered, or callback_done / callback_no_answer with callback_at on
--                       the calendar day of called_at (queue_full, abandoned: not handled)
with calls as (
    select * from {{ ref('stg_telephony__calls') }}
    where month in {{ run_month_list() }}
),

final as (
    select
        month,
        call_id,
        unit_hsa_id,
        care_unit_hsa_id,
        called_at,
        called_date,
        queue,
        outcome,
        callback_at,
        queue in ('sjukvardsradgivning', 'tidsbokning') and is_in_opening_hours as is_counted,
        coalesce(
            outcome = 'answered'
            or (
                outcome in ('callback_done', 'callback_no_answer')
                and cast(callback_at as date) = called_date
            ),
            false
        ) as is_handled_same_day
    from calls
)

select * from final
