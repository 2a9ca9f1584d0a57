{#
  An indicator's value from its parts (SPEC §5): a count is its numerator; a share or ratio is
  numerator / denominator, null when the denominator is 0. One definition for the VC rows
  (indicators__int_vardcentral_values_filled, which the goal payments read) and the REGION
  row (indicators_monthly).
#}
{% macro indicator_value(value_kind, numerator, denominator) -%}
    cast(case
        when {{ value_kind }} = 'count' then {{ numerator }}
        else {{ numerator }} / nullif({{ denominator }}, 0)
    end as double)
{%- endmacro %}
