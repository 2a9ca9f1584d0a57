{#
  The values of a shipped vocabulary as a SQL list for `x in ...`: raw.vocabulary (the lists
  of core/vocabulary.py and the model's components), or with `indicator_catalogue` the
  codes of raw.indicator_catalogue. dbt's tests take accepted values from here, never from
  lists of their own.

  Read when the test runs (raw.* is always there: core/warehouse.py writes it) and
  written into the test's SQL as literals, not joined: a source or ref here would make the
  test a child of raw.vocabulary, and dbt's eager selection would then pick every mart's test
  whenever a selection builds anything upstream of it.
#}
{% macro vocabulary_values(vocabulary) -%}
    {%- set values = [] -%}
    {%- if execute -%}
        {%- if vocabulary == 'indicator_catalogue' -%}
            {%- set found = run_query("select indicator_code from raw.indicator_catalogue order by sort_order") -%}
        {%- else -%}
            {%- set found = run_query("select value from raw.vocabulary where vocabulary = '"
                                      ~ vocabulary ~ "' order by sort_order") -%}
        {%- endif -%}
        {%- set values = found.columns[0].values() -%}
    {%- endif -%}
    {%- if values | length == 0 -%}
        {#- an empty vocabulary accepts nothing: every row then fails and says so -#}
        ('')
    {%- else -%}
        ({%- for value in values -%}'{{ value }}'{{ ", " if not loop.last }}{%- endfor -%})
    {%- endif -%}
{%- endmacro %}
