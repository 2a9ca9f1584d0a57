"""dbt on DuckDB as Dagster assets: the dbt project, the monthly build and the views."""
