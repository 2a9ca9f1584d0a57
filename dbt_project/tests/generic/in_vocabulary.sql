{#
    The column holds only values of the shipped vocabulary (macro vocabulary_values); a null
    passes. One row per offending value, with how many rows hold it.
#}
{% test in_vocabulary(model, column_name, vocabulary) %}
select {{ column_name }} as value, count(*) as rows_with_value
from {{ model }}
where {{ column_name }} is not null
  and {{ column_name }} not in {{ vocabulary_values(vocabulary) }}
group by 1
{% endtest %}
