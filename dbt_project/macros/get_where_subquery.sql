{#
  Data tests on a monthly mart or incremental table (one with a documented `month` column)
  check the months the run built, not the table's whole history: a month's cost must not grow
  with the years kept (a national month of reimbursement_person_monthly is 10.6 million rows).
  Earlier months were tested when they were built, and an incremental run only replaces its
  own months.
  Overrides dbt's macro of the same name; an explicit `where` config still wins.
#}
{% macro get_where_subquery(relation) -%}
    {%- set state = namespace(where=config.get('where', '')) -%}
    {%- if not state.where and execute -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.schema == relation.schema
                  and (node.schema == 'marts' or node.config.materialized == 'incremental')
                  and node.alias == relation.identifier and 'month' in node.columns -%}
                {%- set state.where = "month in " ~ run_month_list() -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if state.where -%}
        {%- do return("(select * from " ~ relation ~ " where " ~ state.where ~ ") dbt_subquery") -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
