"""dbt models as assets: the tables and marts are monthly, one dbt build per run over the run's
month range; the staging and intermediate views are definitions, built when their code changes
(views.py).

Groups follow the dbt folders' domains (staging, shared, indicators, reimbursement, quality);
dbt tests load as asset checks beside their models.
"""

import functools
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from core.settings import get_settings
from core.warehouse import connect, write_run_window
from orchestration.defs.partitions import OWNERS, PARTITIONS, SINGLE_RUN, partition_months
from orchestration.defs.transform.project import dbt_project, dbt_run_window, ensure_manifest
from orchestration.defs.transform.views import (
    VIEW_SELECTION,
    is_view,
    missing_tables,
    record_views_built,
    views_current,
)
from orchestration.dependencies import record_built_from
from orchestration.runtime.dbt_resource import dbt_cli_resource, wait_for_dbt
from orchestration.runtime.dbt_worker import keep_partial_parse
from orchestration.runtime.preload import preload_great_expectations

# the folders of models/intermediate and models/marts; `shared` feeds both indicators and reimbursement
DOMAINS = ("shared", "indicators", "reimbursement", "quality")


# Every month runs the data tests on the marts (and the gate's suites after them). The unit
# tests and the data tests on staging and intermediate models guard the logic, not the data:
# they run in the test suite and in a standalone `dbt build`, not on every month.
NON_PRODUCTION_TEST_PATHS = ("models/staging", "models/intermediate")
PRODUCTION_EXCLUDES = [
    "--exclude-resource-type", "unit_test",
    "--exclude", " ".join(f"test_type:data,path:{path}" for path in NON_PRODUCTION_TEST_PATHS),
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

    def get_asset_spec(self, manifest, unique_id, project):
        spec = super().get_asset_spec(manifest, unique_id, project)
        # A monthly model reads the raw tables through views, which are not in the monthly job:
        # without these deps a run would not order dbt after the month's ingestion.
        node = manifest["nodes"].get(unique_id, {})
        if node.get("resource_type") != "model" or is_view(node):
            return spec
        have = {dep.asset_key for dep in spec.deps}
        through_views = {self.get_asset_spec(manifest, source, project).key
                         for source in _sources_through_views(manifest, unique_id)}
        return spec.merge_attributes(deps=sorted(through_views - have, key=str))

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        # Only the tests a month runs become checks (see PRODUCTION_EXCLUDES): the others would
        # sit in the UI as never executed, and every planned check costs the run an event.
        test = manifest["nodes"].get(unique_id, {})
        if test.get("original_file_path", "").startswith(NON_PRODUCTION_TEST_PATHS):
            return None
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=describe_test(test))


def describe_test(test: Mapping[str, Any]) -> str:
    """What a dbt test holds, in words: its own description, else its leading SQL comment
    (singular tests), else what its arguments say (generic tests)."""
    if (test.get("description") or "").strip():
        return test["description"].strip()
    metadata = test.get("test_metadata") or {}
    if not metadata:
        comment = []
        for line in (test.get("raw_code") or "").splitlines():
            if not line.startswith("--"):
                break
            comment.append(line.removeprefix("--").strip())
        return " ".join(comment) or f"dbt test {test.get('name')}: returns the rows that break it."
    kwargs = metadata.get("kwargs") or {}
    name = metadata.get("name")
    if name == "row_rules":
        parts = []
        if kwargs.get("not_null"):
            parts.append("filled in: " + ", ".join(kwargs["not_null"]))
        for column, values in (kwargs.get("accepted_values") or {}).items():
            parts.append(f"{column} one of {', '.join(map(str, values))}")
        if kwargs.get("rules"):
            parts.append("rules: " + "; ".join(kwargs["rules"]))
        return "Every row keeps its rules — " + " | ".join(parts) + "."
    if name == "unique_combination":
        return f"({', '.join(kwargs.get('columns') or [])}) is a key: no two rows share it."
    if name == "unique":
        return f"{kwargs.get('column_name')} is unique: one row per value."
    if name == "value_between":
        return (f"{kwargs.get('column_name')} lies in [{kwargs.get('min_value')}, {kwargs.get('max_value')}]"
                + (f" where {kwargs['where_clause']}" if kwargs.get("where_clause") else "") + ".")
    arguments = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k != "model")
    return f"dbt test {name}" + (f" ({arguments})" if arguments else "") + "."


def _sources_through_views(manifest: Mapping[str, Any], unique_id: str) -> set[str]:
    """The dbt sources a model reads through a chain of views."""
    found: set[str] = set()
    stack = [parent for parent in manifest["nodes"][unique_id]["depends_on"]["nodes"]
             if is_view(manifest["nodes"].get(parent, {}))]
    seen = set(stack)
    while stack:
        for parent in manifest["nodes"][stack.pop()]["depends_on"]["nodes"]:
            if parent.startswith("source."):
                found.add(parent)
            elif parent not in seen and is_view(manifest["nodes"].get(parent, {})):
                seen.add(parent)
                stack.append(parent)
    return found


TRANSLATOR = VardvalDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


MANIFEST_PATH = ensure_manifest()
# Everything but the views (views.py); a test holds that the two cover every model.
MONTHLY_SELECTION = "config.materialized:table config.materialized:incremental"


@dbt_assets(
    manifest=MANIFEST_PATH,
    project=dbt_project,
    select=VIEW_SELECTION,
    name="vardval_dbt_views",
    dagster_dbt_translator=TRANSLATOR,
    pool="warehouse",
)
def vardval_dbt_views(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """The staging and intermediate views: not monthly, rebuilt when their code changes. A
    month's dbt step does that itself when needed (views.py); this asset lets a data engineer
    rebuild them from the UI."""
    settings = get_settings()
    os.environ["VARDVAL_DATA_DIR"] = str(settings.data_dir)
    with connect(settings.warehouse_path) as con:
        missing = missing_tables(con, _manifest())
    if missing:
        raise dg.Failure(description=(
            f"the views read the monthly tables, and {len(missing)} do not exist yet (e.g. "
            f"{'.'.join(missing[0])}): run a month instead, which builds the views with them"))
    cache = settings.data_dir / "dbt_target"
    target_path = _invocation_target(cache, context.run.run_id)
    yield from dbt.cli(["run"], context=context, target_path=target_path).stream()
    wait_for_dbt(dbt)
    keep_partial_parse(target_path, cache)
    with connect(settings.warehouse_path) as con:
        record_views_built(con, _manifest())


@dbt_assets(
    manifest=MANIFEST_PATH,
    project=dbt_project,
    select=MONTHLY_SELECTION,
    partitions_def=PARTITIONS,
    backfill_policy=SINGLE_RUN,
    dagster_dbt_translator=TRANSLATOR,
    pool="warehouse",
)
def vardval_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    unselected = set(context.assets_def.keys) - set(context.selected_asset_keys)
    if unselected:
        # Intermediate tables hold the run's months: rebuilding only some of the models would
        # mix months. A month is built whole.
        raise dg.Failure(
            description="the dbt models of a month are built together: select the whole dbt graph "
                        f"(or run monthly_job); {len(unselected)} model(s) were left out, e.g. "
                        f"{sorted(k.to_user_string() for k in unselected)[:3]}")
    settings = get_settings()
    # The dbt subprocess finds the warehouse through the same variable as Dagster.
    os.environ["VARDVAL_DATA_DIR"] = str(settings.data_dir)
    months = partition_months(context)
    manifest = _manifest()
    with connect(settings.warehouse_path) as con:
        write_run_window(con, dbt_run_window(months[0], months[-1], settings.min_cell))
        views_stale = not views_current(con, manifest)
    preload_great_expectations()
    args = ["build", *PRODUCTION_EXCLUDES]
    if views_stale:
        # In the same build, so dbt orders each view after the tables it reads.
        context.log.info("dbt views: the project's code or the raw tables changed since they were "
                         "built, or a view is missing; rebuilding them in this build")
        args += ["--select", VIEW_SELECTION]
    context.log.info(f"dbt build for {months[0]}..{months[-1]}")
    cache = settings.data_dir / "dbt_target"
    target_path = _invocation_target(cache, context.run.run_id)
    invocation = dbt.cli(args, context=context, target_path=target_path)
    yield from _views_as_materializations(invocation.stream(), context)
    wait_for_dbt(dbt)  # dbt's warehouse connection is closed before the gate opens it
    keep_partial_parse(target_path, cache)
    with connect(settings.warehouse_path) as con:
        if views_stale:
            record_views_built(con, manifest)
        # what each month was built from: status and the sensor find the months a later
        # correction or reference change leaves out of date (orchestration/dependencies.py)
        record_built_from(con, settings.data_dir, settings.landing_dir / "reference", months)


def _views_as_materializations(events, context: dg.AssetExecutionContext):
    """A view built by the monthly build is an output of vardval_dbt_views, not of this step:
    it is recorded as a materialization of that (unpartitioned) asset."""
    own_outputs = set(context.op_def.output_dict)
    views = {key.to_python_identifier(): key for key in vardval_dbt_views.keys}
    for event in events:
        if isinstance(event, dg.Output) and event.output_name not in own_outputs:
            yield dg.AssetMaterialization(asset_key=views[event.output_name], metadata=event.metadata)
        else:
            yield event


@functools.cache
def _manifest() -> dict:
    return json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))


KEPT_INVOCATIONS = 5


def _invocation_target(cache: Path, run_id: str) -> Path:
    """A fresh dbt target folder for this invocation under <data_dir>/dbt_target, seeded with
    the parse cache the previous build against this data dir left there.

    dbt's partial parse is only valid for the profile it was made with, and the profile holds
    the warehouse path: dagster-dbt seeds each invocation from dbt_project/target, which is
    shared by every data dir (tests, scenarios) and was never written back, so dbt reported
    "Unable to do partial parsing because profile has changed" and re-parsed the whole project
    on every run (~4 s). A cache per data dir is valid from the second run on. dbt validates
    it (files, profile, vars, version) before use, so a stale one only costs the full parse.
    Older invocation folders beyond the last few are removed."""
    target = cache / f"vardval_dbt_models-{run_id[:8]}-{uuid.uuid4().hex[:7]}"
    target.mkdir(parents=True, exist_ok=True)
    seed = cache / "partial_parse.msgpack"
    if seed.exists():
        shutil.copyfile(seed, target / "partial_parse.msgpack")
    old = sorted((p for p in cache.glob("vardval_dbt_models-*") if p != target),
                 key=lambda p: p.stat().st_mtime)
    for stale in old[:-KEPT_INVOCATIONS] if len(old) > KEPT_INVOCATIONS else []:
        shutil.rmtree(stale, ignore_errors=True)
    return target


# A run's dbt output already reaches the run log (CLI) or the step's logs (UI), and its
# compiled SQL stays in the invocation's target folder. dbt's own debug log file and its JSON
# artifacts (manifest.json, run_results.json, rewritten by every build) cost ~1 s a build and
# nothing reads them; the partial-parse cache is still written.
DBT_GLOBAL_FLAGS = ["--log-level-file", "none", "--no-write-json"]


def dbt_resource() -> DbtCliResource:
    """Stock or fast, as VARDVAL_RUNTIME says (orchestration/runtime/dbt_resource.py)."""
    return dbt_cli_resource(project_dir=dbt_project, profiles_dir=str(dbt_project.profiles_dir),
                            global_config_flags=DBT_GLOBAL_FLAGS)
