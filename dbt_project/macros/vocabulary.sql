{#
  The values of a shipped vocabulary as a subquery for `x in ...`: raw.vocabulary (the lists
  of sources/vocabulary.py and the model's components), or with `indicator_catalogue` the
  codes of raw.indicator_catalogue. dbt's tests take accepted values from here, never from
  lists of their own.
#}
{% macro vocabulary_values(vocabulary) -%}
    {%- if vocabulary == 'indicator_catalogue' -%}
        (select indicator_code from {{ source('raw', 'indicator_catalogue') }})
    {%- else -%}
        (select value from {{ source('raw', 'vocabulary') }} where vocabulary = '{{ vocabulary }}')
    {%- endif -%}
{%- endmacro %}
