{# The months a run builds: vars month_from..month_to, 'YYYY-MM', inclusive. #}
{% macro month_from() -%}'{{ var("month_from") }}'{%- endmacro %}
{% macro month_to() -%}'{{ var("month_to") }}'{%- endmacro %}

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
    from range(
        cast({{ month_from() }} || '-01' as date),
        cast({{ month_to() }} || '-01' as date) + interval 1 month,
        interval 1 month
    ) as t(d)
{%- endmacro %}

{# Incremental monthly marts: replace exactly the run's months. #}
{% macro delete_run_months() -%}
    {% if is_incremental() %}
        delete from {{ this }} where month between {{ month_from() }} and {{ month_to() }}
    {% endif %}
{%- endmacro %}
