"""The transform domain: the dbt models on DuckDB (staging and intermediate views, monthly marts)
with their dbt tests as asset checks, and the dbt resource they run with."""
import dagster as dg

from orchestration.defs.transform.assets import dbt_resource, vardval_dbt_models, vardval_dbt_views

defs = dg.Definitions(assets=[vardval_dbt_views, vardval_dbt_models], resources={"dbt": dbt_resource()})
