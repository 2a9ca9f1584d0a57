{#
  SPEC §3.5: a month uses, for every unit, the registry row valid on the month's last day
  (valid_from..valid_to inclusive, null = open). Join condition for stg_registry__units rows:
  `units.hsa_id = x.hsa_id and {{ registry_row_valid('units', 'x.month_end') }}`. The same rule
  in Python: sources/registry_history.py.
#}
{% macro registry_row_valid(units, day) -%}
    ({{ units }}.valid_from_date is null or {{ units }}.valid_from_date <= {{ day }})
    and ({{ units }}.valid_to_date is null or {{ units }}.valid_to_date >= {{ day }})
{%- endmacro %}

{# The last day of a 'YYYY-MM' month column, as a date. #}
{% macro month_end_of(month) -%}
    last_day(cast({{ month }} || '-01' as date))
{%- endmacro %}
