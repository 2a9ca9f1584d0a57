{#
    total equals the sum of the reimbursement components (raw.vocabulary's
    `reimbursement_component`, i.e. sources/reimbursement_model.py COMPONENTS) within the
    tolerance the reconciliation uses (var amount_tolerance_sek). The component columns are
    read when the test runs, so a component added to the model needs no edit here.
#}
{% test components_sum_to_total(model, tolerance=none) %}
{%- set tolerance = tolerance if tolerance is not none else var('amount_tolerance_sek') -%}
{%- set components = [] -%}
{%- if execute -%}
    {#- raw.vocabulary by name, not source(): see macros/vocabulary.sql -#}
    {%- set found = run_query("select value from raw.vocabulary"
                              ~ " where vocabulary = 'reimbursement_component' order by sort_order") -%}
    {%- set components = found.columns[0].values() -%}
{%- endif -%}
select month, vardcentral_hsa_id, total,
    {{ components | join(' + ') if components else '0' }} as components
from {{ model }}
where total is null
   or abs(total - ({{ components | join(' + ') if components else 'total' }})) >= {{ tolerance }}
{% endtest %}
