{#
    The combination of `columns` is a key of the model: returns one row per duplicated
    combination, with how often it occurs.
#}
{% test unique_combination(model, columns) %}
select
    {{ columns | join(', ') }},
    count(*) as duplicate_rows,
    'key (' || '{{ columns | join(", ") }}' || ') occurs ' || count(*) || ' times' as problem
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
