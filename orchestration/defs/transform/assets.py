"""dbt models as monthly assets: one dbt build per run, over the run's month range.

Groups follow the dbt folders' domains (staging, indicators, reimbursement, quality);
dbt tests load as asset checks beside their models.
"""

import os
import sys
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from orchestration.defs.partitions import OWNERS, PARTITIONS, SINGLE_RUN, run_months
from orchestration.defs.transform.project import dbt_project, dbt_run_window, ensure_manifest
from orchestration.settings import get_settings
from orchestration.warehouse import write_run_window

DOMAINS = ("indicators", "reimbursement", "quality")


# Every month runs the data tests on the marts (and the gate's suites after them). The unit
# tests and the data tests on staging and intermediate models guard the logic, not the data:
# they run in the test suite and in a standalone `dbt build`, not on every month.
PRODUCTION_EXCLUDES = [
    "--exclude-resource-type", "unit_test",
    "--exclude", "test_type:data,path:models/staging test_type:data,path:models/intermediate",
]


class VardvalDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        schema = dbt_resource_props.get("config", {}).get("schema") or "main"
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        folders = dbt_resource_props.get("fqn", [])[1:-1]
        if folders and folders[0] == "staging":
            return "staging"
        for domain in DOMAINS:
            if domain in folders:
                return domain
        return "quality"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return OWNERS


TRANSLATOR = VardvalDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    partitions_def=PARTITIONS,
    backfill_policy=SINGLE_RUN,
    dagster_dbt_translator=TRANSLATOR,
    pool="warehouse",
)
def vardval_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    unselected = set(context.assets_def.keys) - set(context.selected_asset_keys)
    if unselected:
        # Intermediate models hold the run's months (tables, and views compiled with the run's
        # vars): rebuilding only some of them would mix months. A month is built whole.
        raise dg.Failure(
            description="the dbt models of a month are built together: select the whole dbt graph "
                        f"(or run monthly_job); {len(unselected)} model(s) were left out, e.g. "
                        f"{sorted(k.to_user_string() for k in unselected)[:3]}")
    settings = get_settings()
    # The dbt subprocess finds the warehouse through the same variable as Dagster.
    os.environ["VARDVAL_DATA_DIR"] = str(settings.data_dir)
    months = run_months(context)
    write_run_window(settings.warehouse_path, dbt_run_window(months[0], months[-1], settings.min_cell))
    context.log.info(f"dbt build for {months[0]}..{months[-1]}")
    args = ["build", *PRODUCTION_EXCLUDES]
    yield from dbt.cli(args, context=context).stream()


def dbt_resource() -> DbtCliResource:
    # The venv's dbt, whether or not the venv is on PATH (make targets call .venv/bin/* directly).
    executable = Path(sys.executable).with_name("dbt")
    return DbtCliResource(project_dir=dbt_project, profiles_dir=str(dbt_project.profiles_dir),
                          dbt_executable=str(executable) if executable.exists() else "dbt")
