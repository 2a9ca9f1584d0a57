"""Everything Dagster knows about, assembled in one place (loaded by workspace.yaml and the CLI)."""
from __future__ import annotations

import dagster as dg

from orchestration.runtime.dagster_dbt_import import import_dagster_dbt

# Before any dbt asset module imports dagster-dbt: with the runtime's `lean_dbt` piece it is
# imported without dbt-core (orchestration/runtime/dagster_dbt_import.py).
import_dagster_dbt()

from orchestration.defs.operations.jobs import monthly_job
from orchestration.defs.operations.schedules import monthly_schedule
from orchestration.defs.operations.sensors import landing_sensor
from orchestration.defs.publication.assets import publication
from orchestration.defs.sources.assets import reference_data, source_deliveries
from orchestration.defs.transform.assets import dbt_resource, vardval_dbt_models, vardval_dbt_views

defs = dg.Definitions(
    assets=[reference_data, source_deliveries, vardval_dbt_views, vardval_dbt_models, publication],
    jobs=[monthly_job],
    schedules=[monthly_schedule],
    sensors=[landing_sensor],
    resources={"dbt": dbt_resource()},
    executor=dg.in_process_executor,
)
