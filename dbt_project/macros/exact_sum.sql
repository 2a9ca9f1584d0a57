{#
  Sum of doubles that does not depend on row order. DuckDB aggregates in parallel, so a plain
  sum of doubles can differ in its last bits between runs; published content must be
  byte-identical when the inputs are. Each value is fixed at 1e-12 (far below an öre) and
  summed exactly as a decimal.
#}
{% macro exact_sum(expression) -%}
    cast(sum(cast({{ expression }} as decimal(38, 12))) as double)
{%- endmacro %}

{% macro exact_avg(expression) -%}
    cast(avg(cast({{ expression }} as decimal(38, 12))) as double)
{%- endmacro %}
