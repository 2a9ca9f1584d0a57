{#
  The months a run builds, 'YYYY-MM', inclusive. Dagster writes them to raw.run_window before
  each build and passes no vars, so dbt's parse stays valid from run to run (a change of vars
  forces a full re-parse) and views never keep an earlier run's months. A standalone dbt run
  or a test may pass --vars month_from/month_to/min_cell instead.
#}
{% macro month_from() -%}
    {%- if var('month_from', none) is not none -%}'{{ var('month_from') }}'
    {%- else -%}(select month_from from raw.run_window){%- endif -%}
{%- endmacro %}
{% macro month_to() -%}
    {%- if var('month_to', none) is not none -%}'{{ var('month_to') }}'
    {%- elif var('month_from', none) is not none -%}'{{ var('month_from') }}'
    {%- else -%}(select month_to from raw.run_window){%- endif -%}
{%- endmacro %}
{% macro min_cell() -%}
    {%- if var('min_cell', none) is not none -%}{{ var('min_cell') }}
    {%- else -%}(select min_cell from raw.run_window){%- endif -%}
{%- endmacro %}

{# First day of the earliest month a window of n months ending in month_from needs. #}
{% macro window_start_date(n_months) -%}
    (cast({{ month_from() }} || '-01' as date) - interval '{{ n_months - 1 }} months')
{%- endmacro %}

{# Months built by this run, as rows: month, month_start, month_end. #}
{% macro run_months() -%}
    select
        strftime(d, '%Y-%m') as month,
        cast(d as date) as month_start,
        cast(d + interval 1 month - interval 1 day as date) as month_end
    from (
        select unnest(generate_series(
            cast({{ month_from() }} || '-01' as timestamp),
            cast({{ month_to() }} || '-01' as timestamp),
            interval 1 month
        )) as d
    )
{%- endmacro %}

{# Incremental monthly marts: replace exactly the run's months. #}
{% macro delete_run_months() -%}
    {% if is_incremental() %}
        delete from {{ this }} where month between {{ month_from() }} and {{ month_to() }}
    {% endif %}
{%- endmacro %}

{# listing__int_vc_changes_identified: the run's months and the month after them are
   recomputed (a change of month k reads the snapshot of k-1). #}
{% macro delete_vc_changes_to_recompute() -%}
    {% if is_incremental() %}
        delete from {{ this }} where month in {{ window_month_list(1, end_offset=1) }}
    {% endif %}
{%- endmacro %}

{# The run's months, and the months of an n-month window ending in each run month, as a
   subquery of 'YYYY-MM' for `month in ...`. DuckDB pushes such a list into the scan of a
   raw table and skips the other months' row groups; `month between (select ...)` is a join
   it applies after reading every month of history (a month's cost then grew with the years
   kept: 0.9 s against 0.3 s for one national listing at four months). #}
{% macro run_month_list() -%}
    {{ window_month_list(1) }}
{%- endmacro %}
{# end_offset moves the last month: -1 gives the months before the run's, +1 adds the month
   after it. #}
{% macro window_month_list(n_months, end_offset=0) -%}
    (select strftime(d, '%Y-%m') from (select unnest(generate_series(
        cast({{ window_start_date(n_months) }} as timestamp),
        cast({{ month_to() }} || '-01' as timestamp) + interval '{{ end_offset }} months',
        interval 1 month
    )) as d))
{%- endmacro %}

{# The rows of a table stored month by month that the run's n-month windows read, each
   tagged with its run month: `month` is the run month, `window_month` the stored row's own.
   The `in` list lets DuckDB skip the other months in the scan; the join repeats a stored
   month for every run month whose window holds it (a backfill). #}
{% macro rows_in_run_windows(relation, n_months) -%}
    select run_windows.month, stored.month as window_month, stored.* exclude (month)
    from {{ relation }} as stored
    inner join (
        select
            run_months.month,
            strftime(run_months.month_start - to_months(offsets.months_back), '%Y-%m') as window_month
        from ({{ run_months() }}) as run_months
        cross join range({{ n_months }}) as offsets(months_back)
    ) as run_windows on run_windows.window_month = stored.month
    where stored.month in {{ window_month_list(n_months) }}
{%- endmacro %}

{# Tables stored month by month (incremental): the months of the run's n-month windows that
   the table lacks, as rows: month. The run's own months are among them, since their
   pre-hook has deleted them. #}
{% macro window_months_missing(n_months, end_offset=0) -%}
    select month
    from {{ window_month_list(n_months, end_offset=end_offset) }} as window_months(month)
    {% if is_incremental() %}
    where month not in (select distinct month from {{ this }})
    {% endif %}
{%- endmacro %}
