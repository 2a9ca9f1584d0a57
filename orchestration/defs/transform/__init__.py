"""dbt on DuckDB as Dagster assets. dagster-dbt is imported here first, without dbt-core in
this process (dbt_core_hidden.py); dbt itself runs in its own process (orchestration/dbt_worker.py)."""
from orchestration.defs.transform.dbt_core_hidden import import_dagster_dbt

import_dagster_dbt()
