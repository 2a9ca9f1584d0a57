{#
    None of `columns` is null. One scan for all of a model's columns rather than a not_null
    test (a query, and three Dagster events) per column; returns one row per column that has
    nulls, with how many.
#}
{% test columns_not_null(model, columns) %}
with null_counts as (
    select
    {%- for column in columns %}
        count(*) filter (where {{ column }} is null) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
)
select
    column_name,
    null_rows,
    column_name || ' is null in ' || null_rows || ' rows' as problem
from (unpivot null_counts on columns(*) into name column_name value null_rows)
where null_rows > 0
{% endtest %}
