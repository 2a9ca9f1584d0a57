{#
  Whole years on a date (SPEC §3.2). Comparing (month, day) pairs gives the 29 February rule
  for free: in a non-leap year 02-28 < 02-29, so the birthday is only reached on 1 March.
  One definition for the listing bands and for capitation, so they cannot disagree.
#}
{% macro age_in_years(birth_date, on_date) -%}
    (year({{ on_date }}) - year({{ birth_date }})
        - case when month({{ on_date }}) * 100 + day({{ on_date }})
                    < month({{ birth_date }}) * 100 + day({{ birth_date }})
               then 1 else 0 end)
{%- endmacro %}
