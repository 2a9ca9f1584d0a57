{#
    Every row of a mart keeps its rules, checked in one scan: `not_null` columns are filled,
    `accepted_values` columns hold one of their values, `vocabularies` columns a value of their
    vocabulary in raw.vocabulary (core/vocabulary.py; `indicator_catalogue` names the codes
    of raw.indicator_catalogue), and each of `rules` (a name and a boolean SQL expression)
    holds. Returns one row per broken rule, with how many rows break it.

    One test per mart rather than a dbt test per column and rule: each test is a query and
    three Dagster events in every month's build. As in dbt's accepted_values, a null passes a
    value list or a rule (the not_null list says what must be filled).
#}
{% test row_rules(model, not_null=[], accepted_values={}, vocabularies={}, rules={}) %}
{%- set checks = [] -%}
{%- for column in not_null -%}
    {%- do checks.append((column ~ ' is null', column ~ ' is null')) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
    {%- set listed = [] -%}
    {%- for value in values -%}
        {%- do listed.append("'" ~ value ~ "'" if value is string else value) -%}
    {%- endfor -%}
    {%- do checks.append((column ~ ' is not one of ' ~ values | join(', '),
                          column ~ ' not in (' ~ listed | join(', ') ~ ')')) -%}
{%- endfor -%}
{%- for column, vocabulary in vocabularies.items() -%}
    {%- do checks.append((column ~ ' is not in the vocabulary ' ~ vocabulary,
                          column ~ ' not in ' ~ vocabulary_values(vocabulary))) -%}
{%- endfor -%}
{%- for name, rule in rules.items() -%}
    {%- do checks.append(('not ' ~ name, 'not (' ~ rule ~ ')')) -%}
{%- endfor -%}
with broken as (
    select
    {%- for label, condition in checks %}
        count(*) filter (where {{ condition }}) as "{{ label | replace('"', "'") }}"{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
)
select
    rule,
    broken_rows,
    rule || ' in ' || broken_rows || ' rows' as problem
from (unpivot broken on columns(*) into name rule value broken_rows)
where broken_rows > 0
{% endtest %}
