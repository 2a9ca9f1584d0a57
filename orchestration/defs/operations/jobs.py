"""The monthly job: every asset, one run per month or per range, in one process."""
from __future__ import annotations

import dagster as dg

from orchestration.defs.partitions import PARTITIONS
from orchestration.defs.transform.assets import vardval_dbt_views

monthly_job = dg.define_asset_job(
    name="monthly_job",
    # Every monthly asset. The dbt views are not monthly: the dbt step rebuilds them when their
    # code changed (orchestration/defs/transform/views.py).
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(vardval_dbt_views),
    partitions_def=PARTITIONS,
    description="Ingest, validate, transform, check and publish a month (or a range, in one run).",
    # One process for the whole run: imports, dbt start-up and GE load are paid once.
    executor_def=dg.in_process_executor,
)
