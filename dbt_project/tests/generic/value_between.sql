{#
    Every non-null value of the column lies in [min_value, max_value]; returns the rows
    outside, with a readable description. Optional `where` narrows the rows checked.
#}
{% test value_between(model, column_name, min_value, max_value, where_clause=none) %}
select
    *,
    '{{ column_name }} = ' || cast({{ column_name }} as varchar)
        || ' outside [{{ min_value }}, {{ max_value }}]' as problem
from {{ model }}
where {{ column_name }} is not null
    and ({{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }})
    {% if where_clause %}and ({{ where_clause }}){% endif %}
{% endtest %}
