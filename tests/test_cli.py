"""The command line's contract (SPEC §10), the Dagster definitions it runs and the instance it prepares.

Exit status of `vardval`: 0 every month published, 1 a month not published, 2 bad arguments or
settings, 3 the warehouse is held by another process. (A full run's status on a blocked month is
tested in the end-to-end tests.)
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from core.settings import get_settings
from orchestration.cli.commands import EXIT_WAREHOUSE_BUSY, main
from orchestration.cli.concurrency import HOST_TAG, PID_TAG, POOL, holders, release_stale_slots
from orchestration.cli.dagster_home import dagster_yaml, prepare_environment

VARDVAL = str(Path(sys.executable).with_name("vardval"))
SUBCOMMANDS = ["run", "status", "payouts", "demo", "generate", "scenario", "ui"]
GROUPS = {"sources", "staging", "shared", "indicators", "reimbursement", "quality", "publication"}


def cli_env(root: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VARDVAL_", "DAGSTER_"))}
    env.update({"VARDVAL_DATA_DIR": str(root / "data"), "VARDVAL_LANDING_DIR": str(root / "landing"),
                "DAGSTER_HOME": str(root / "dagster_home"), "DAGSTER_DISABLE_TELEMETRY": "true",
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    env.update(extra)
    return env


def vardval(root: Path, *args: str, timeout: int = 120, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([VARDVAL, *args], env=cli_env(root, **extra), capture_output=True, text=True,
                          timeout=timeout, cwd=root)


# --- arguments and settings ------------------------------------------------------------------

def test_help_names_every_command(tmp_path):
    result = vardval(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    for command in SUBCOMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: vardval {command}" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["run", "--from", "2025-13"], "'2025-13' is not a month: use YYYY-MM"),
    (["run", "--from", "2025-03", "--to", "2025-01"], "month range 2025-03..2025-01 is empty"),
    (["generate", "--from", "25-01", "--to", "2025-02"], "'25-01' is not a month"),
])
def test_a_bad_month_exits_2_with_the_reason(tmp_path, args, message):
    result = vardval(tmp_path, *args, VARDVAL_PSEUDONYM_KEY="k")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_run_without_a_pseudonym_key_exits_2_and_touches_nothing(tmp_path):
    result = vardval(tmp_path, "run", "--from", "2025-01")
    assert result.returncode == 2
    assert "VARDVAL_PSEUDONYM_KEY is not set" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()


def test_status_on_an_empty_data_dir(tmp_path):
    result = vardval(tmp_path, "status")
    assert result.returncode == 0, result.stderr
    assert "nothing has run yet" in result.stdout


# --- a warehouse held by another process ------------------------------------------------------

HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create table if not exists held (x integer)")
print("holding", flush=True)
time.sleep(120)
"""


def test_a_held_warehouse_is_a_clear_message_and_exit_3(tmp_path):
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    warehouse.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(warehouse)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        for args in (["run", "--from", "2025-01"], ["status"]):
            result = vardval(tmp_path, *args, VARDVAL_PSEUDONYM_KEY="test-key-not-secret")
            output = result.stdout + result.stderr
            assert result.returncode == EXIT_WAREHOUSE_BUSY, output
            assert f"the warehouse {warehouse} is held by another process" in result.stderr
            assert f"PID {holder.pid}" in result.stderr
            assert "Traceback" not in output
    finally:
        holder.kill()
        holder.wait()
    # Nothing was started: no Dagster run was recorded.
    assert not (tmp_path / "dagster_home" / "history" / "runs").exists() or \
        not list((tmp_path / "dagster_home" / "history" / "runs").glob("*.db"))


# --- the Dagster instance a run prepares -------------------------------------------------------

@pytest.fixture
def fresh_env(tmp_path, monkeypatch):
    """prepare_environment sets these: monkeypatch them first so they are restored afterwards."""
    for name in ("DBT_SEND_ANONYMOUS_USAGE_STATS", "DAGSTER_DISABLE_TELEMETRY"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("VARDVAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VARDVAL_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    yield tmp_path
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


def test_a_new_dagster_home_allows_one_warehouse_writer_at_a_time(fresh_env):
    prepare_environment(get_settings())
    home = Path(os.environ["DAGSTER_HOME"])
    assert home == fresh_env / "data" / "dagster_home"
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["telemetry"] == {"enabled": False}
    assert config["concurrency"]["pools"]["default_limit"] == 1
    with dg.DagsterInstance.from_config(str(home)) as instance:
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 1
        assert concurrency.run_queue_config.max_concurrent_runs == 1   # the daemon: one run at a time
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert not instance.nux_enabled


def test_an_operators_dagster_yaml_is_left_alone_and_the_old_default_upgraded(fresh_env):
    home = fresh_env / "home"
    home.mkdir()
    os.environ["DAGSTER_HOME"] = str(home)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")   # what earlier versions wrote
    prepare_environment(get_settings())
    assert (home / "dagster.yaml").read_text() == dagster_yaml(home)
    (home / "dagster.yaml").write_text(dagster_yaml(fresh_env / "elsewhere"))   # a copied home
    prepare_environment(get_settings())
    assert (home / "dagster.yaml").read_text() == dagster_yaml(home)
    (home / "dagster.yaml").write_text("run_queue:\n  max_concurrent_runs: 2\n")
    prepare_environment(get_settings())
    assert (home / "dagster.yaml").read_text() == "run_queue:\n  max_concurrent_runs: 2\n"


# --- slots left behind by a process that died ---------------------------------------------------

def _run_holding_a_slot(instance, status: dg.DagsterRunStatus, tags: dict) -> str:
    run = instance.add_run(dg.DagsterRun(job_name="monthly_job", status=status, tags=tags))
    claim = instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, "vardval_dbt_models")
    assert claim.is_claimed
    return run.run_id


def test_slots_of_finished_runs_and_dead_processes_are_freed_live_ones_kept():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    here = socket.gethostname()
    with dg.instance_for_test() as instance:
        instance.event_log_storage.set_concurrency_slots(POOL, 4)
        gone = _run_holding_a_slot(instance, dg.DagsterRunStatus.STARTED, {PID_TAG: str(dead.pid), HOST_TAG: here})
        finished = _run_holding_a_slot(instance, dg.DagsterRunStatus.SUCCESS, {})
        alive = _run_holding_a_slot(instance, dg.DagsterRunStatus.STARTED, {PID_TAG: str(os.getpid()), HOST_TAG: here})
        elsewhere = _run_holding_a_slot(instance, dg.DagsterRunStatus.STARTED, {PID_TAG: str(dead.pid), HOST_TAG: "other"})

        notes = release_stale_slots(instance)

        assert len(notes) == 2 and any(gone[:8] in n for n in notes) and any(finished[:8] in n for n in notes)
        assert instance.get_run_by_id(gone).status == dg.DagsterRunStatus.FAILURE
        held = {slot.run_id for slot in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots}
        assert held == {alive, elsewhere}
        assert f"run {alive[:8]} (vardval_dbt_models)" in holders(instance)


def test_a_step_failure_shows_its_root_cause():
    from dagster._utils.error import SerializableErrorInfo

    from orchestration.cli.progress import root_cause

    inner = SerializableErrorInfo("WarehouseBusy: the warehouse /x is held\n", [], "WarehouseBusy")
    outer = SerializableErrorInfo('Error occurred while executing op "reference_data"\n', [], "X", cause=inner)
    assert root_cause(outer).startswith("WarehouseBusy: the warehouse /x is held")


# --- what a run prints ------------------------------------------------------------------------

def _rows_of(output: str, month: str) -> str:
    """The summary table's row(s) of a month (a cell may wrap onto the next lines)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"│ {month}"))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("│  ")), len(lines))
    return " ".join(" ".join(line.strip("│ ").split()) for line in lines[start:end])


def test_a_run_prints_its_quarantined_lines_and_a_failed_reference_load_is_every_months_why(
        published_region, tmp_path):
    from tests.delivery_edits import Delivery

    region = published_region.copy(tmp_path / "region")
    visits = Delivery.load(region.landing / "2025-02" / "visits.csv")
    lines = [visits.set(i, "vardcentral_hsa_id", "SE-UNKNOWN-UNIT") for i in (4, 9)]
    visits.save()
    result = region.vardval("run", "--from", "2025-02")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "2025-02: 2 quarantined lines:" in output, output[-4000:]
    for line in lines:
        assert (f"visits.csv line {line}, column vardcentral_hsa_id: unknown unit "
                f"(value 'SE-UNKNOWN-UNIT')") in output

    cni = region.landing / "reference" / "cni_areas.csv"
    original = cni.read_bytes()
    cni.write_bytes(b"")
    result = region.vardval("run", "--from", "2025-02")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-4000:]
    summary = output[output.index("Summary"):]
    row = _rows_of(summary, "2025-02")
    assert "blocked (v2 kept)" in row and "passed" not in row, row
    assert "reference_data failed: cni_areas.csv: empty file (0 bytes)" in row, row
    status = region.vardval("status").stdout
    for month, kept in (("2025-01", "v1"), ("2025-02", "v2")):
        row = _rows_of(status, month)
        assert f"blocked ({kept} kept)" in row and "reference_data failed: cni_areas.csv" in row, row

    cni.write_bytes(original)   # as loaded before: the failure is gone with the next run
    result = region.vardval("run", "--from", "2025-02")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "reference_data failed" not in result.stdout
    assert "published v2" in _rows_of(region.vardval("status").stdout, "2025-02")


# --- the definitions the CLI and the UI share ---------------------------------------------------

@pytest.fixture(scope="module")
def defs():
    from orchestration.definitions import defs

    dg.Definitions.validate_loadable(defs)
    return defs


def test_every_asset_is_monthly_in_the_job_and_in_the_warehouse_pool(defs):
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert {defs.resolve_assets_def(k).specs_by_key[k].group_name for k in keys} == GROUPS
    job = defs.resolve_job_def("monthly_job")
    # Every asset but dbt's views, which are built per code version (docs/decisions.md).
    views = set(defs.resolve_assets_def(dg.AssetKey(["staging", "stg_journal__contacts"])).keys)
    # the staging and intermediate models dbt_project.yml leaves as views (no materialized= of their own)
    models = Path(__file__).resolve().parents[1] / "dbt_project" / "models"
    view_models = [p for folder in ("staging", "intermediate") for p in (models / folder).rglob("*.sql")
                   if "materialized=" not in p.read_text(encoding="utf-8")]
    assert len(views) == len(view_models)
    assert set(job.asset_layer.selected_asset_keys) == set(keys) - views
    for assets_def in graph.assets_defs:
        if not assets_def.is_executable:
            continue
        assert (assets_def.partitions_def is None) == (assets_def.node_def.name == "vardval_dbt_views"), \
            assets_def.node_def.name
        assert assets_def.node_def.pool == "warehouse", f"{assets_def.node_def.name} is not in the warehouse pool"


def test_the_schedule_and_the_sensor_start_the_monthly_job(defs):
    assert defs.resolve_schedule_def("previous_month_schedule").job_name == "monthly_job"
    assert defs.resolve_sensor_def("landing_sensor").job_name == "monthly_job"


def test_checks_sit_beside_their_assets(defs):
    checks: dict[str, set[str]] = {}
    for assets_def in defs.resolve_asset_graph().assets_defs:
        for key in assets_def.check_keys:
            checks.setdefault(key.asset_key.to_user_string(), set()).add(key.name)
    # Source contracts (pandera, quarantine share) on the raw tables they guard.
    for source in ("listing", "visits", "telephony"):
        assert f"{source}_contract" in checks[f"raw/{source}"]
    # The gate: each delivery check, GE suite and reconciliation is a check of its own.
    from validations.expectations.suites import SUITES
    gate = checks["publication/month_gate"]
    assert {"deliveries_readable", "quarantine_within_limit", "components_sum_to_total",
            "person_rows_sum_to_vc_rows", "listed_count_matches_listing", "shares_within_unit_interval",
            "open_vc_has_reimbursement_row", "month_has_rows", "listed_count_plausible"} <= gate
    assert {f"ge_{suite}" for suite in SUITES} <= gate
    # dbt tests load as checks on their models: every published mart has some.
    for mart in ("indicators_monthly", "listing_monthly", "contacts_monthly", "reimbursement_monthly",
                 "reimbursement_person_monthly", "data_quality_monthly", "vardcentraler"):
        assert checks.get(f"marts/{mart}"), f"no dbt tests attached to marts/{mart}"
    assert "reimbursement_monthly_row_rules" in checks["marts/reimbursement_monthly"]


def test_gate_checks_block_except_the_warning_and_are_monthly(defs):
    gate = defs.resolve_assets_def(dg.AssetKey(["publication", "month_gate"]))
    specs = {spec.name: spec for spec in gate.check_specs}
    assert len(specs) >= 15
    assert {name for name, spec in specs.items() if not spec.blocking} == {"listed_count_plausible"}
    assert all(spec.partitions_def == gate.partitions_def for spec in specs.values())
    assert all(spec.description for spec in specs.values())


def test_every_dbt_check_says_what_it_holds(defs):
    """No "No description provided" in the UI; the test of two models is a check, not an observation."""
    dbt_checks = [spec for assets_def in defs.resolve_asset_graph().assets_defs for spec in assets_def.check_specs
                  if spec.asset_key.path[0] == "marts"]
    assert len(dbt_checks) >= 20
    assert [spec.name for spec in dbt_checks if not spec.description] == []
    names = {spec.asset_key.to_user_string(): set() for spec in dbt_checks}
    for spec in dbt_checks:
        names[spec.asset_key.to_user_string()].add(spec.name)
    assert "indicators_listed_count_matches_listing_monthly" in names["marts/indicators_monthly"]
    row_rules = next(s for s in dbt_checks if s.name == "reimbursement_monthly_row_rules")
    assert "visits_elsewhere_deduction is <= 0" in row_rules.description
    assert "reimbursement_monthly_components_sum_to_total" in names["marts/reimbursement_monthly"]


def test_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"vardval {version('vardval')}"


def test_every_option_has_help():
    import argparse

    from orchestration.cli.commands import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {'/'.join(action.option_strings)}"
               for name, sub in [("vardval", parser), *subparsers.choices.items()]
               for action in sub._actions
               if action.option_strings and not action.help]
    assert missing == []
    assert set(subparsers.choices) == set(SUBCOMMANDS)


def test_cli_runs_are_recorded_under_the_uis_code_location():
    """The UI lists a run under its job, and on the timeline, by its code location's name."""
    from orchestration.cli.job_run import JOB_NAME, workspace_location

    workspace = yaml.safe_load((Path(__file__).resolve().parents[1] / "workspace.yaml").read_text())
    target = workspace["load_from"][0]["python_module"]
    assert workspace_location() == (target["location_name"], target["module_name"]) == \
        ("vardval", "orchestration.definitions")
    assert JOB_NAME == "monthly_job"
