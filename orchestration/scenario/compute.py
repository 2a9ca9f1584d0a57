"""Recompute the reimbursement of built months under another model file, on a copy of the warehouse.

How (SPEC §6 last paragraph, §10): the real dbt reimbursement models run against a private copy
of `<data_dir>/warehouse.duckdb` whose `raw.model_*` tables hold the scenario's model. Nothing
is re-implemented in Python and nothing the pipeline owns is written: the warehouse is only
opened read-only (which also keeps a run from writing it while it is copied), and published/ is
never opened at all. Indicators are not rebuilt: goal payments apply the scenario's goals to
the same indicator values (marts.indicators_monthly of the copy).

Today's figures are the warehouse's own `marts.reimbursement_monthly` for the months.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from core.months import month_range
from core.settings import Settings
from core.vocabulary import COMPONENTS as REIMBURSEMENT_COMPONENTS
from core.warehouse import WarehouseBusy, connect
from sources.reimbursement_model import ReimbursementModel, load_model, model_tables, version_for_month

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

# reimbursement_monthly's components in SPEC §6 order, total last.
COMPONENTS = (*REIMBURSEMENT_COMPONENTS, "total")

# The reimbursement models and the staging views they read (cheap to recreate, so the copy's
# views match the code). Data tests run on the reimbursement marts only, as in a monthly run.
DBT_SELECT = ["path:models/staging", "path:models/intermediate/reimbursement", "path:models/marts/reimbursement"]
DBT_EXCLUDE = ["--exclude-resource-type", "unit_test",
               "--exclude", "test_type:data,path:models/staging", "test_type:data,path:models/intermediate"]

_MONTHLY_COLUMNS = ", ".join(["month", "vardcentral_hsa_id", "owner_type", "model_version_id", "listed_count",
                              *COMPONENTS])


class ScenarioError(Exception):
    """A scenario that cannot be computed as asked; the message says what to do (exit status 2)."""


class ScenarioBuildFailed(Exception):
    """dbt failed on the scenario's copy of the warehouse (exit status 1)."""


@dataclass
class ScenarioResult:
    name: str
    model_path: Path
    model_sha256: str
    months: list[str]
    warehouse_path: Path
    current: pd.DataFrame        # marts.reimbursement_monthly of the warehouse, the months only
    scenario: pd.DataFrame       # the same columns, recomputed under the scenario's model
    units: pd.DataFrame          # hsa_id, name, owner_type
    current_versions: pd.DataFrame  # month, model_version_id, model_valid_from (today)
    scenario_versions: dict[str, str] = field(default_factory=dict)  # month -> valid_from used
    dbt_log: Path | None = None
    seconds: float = 0.0


def scenario_name(model_path: Path) -> str:
    return Path(model_path).stem


def compute_scenario(model_path: Path, month_from: str, month_to: str, settings: Settings,
                     log_dir: Path, say=print) -> ScenarioResult:
    """Validate the model, recompute the months on a copy, return today's and the scenario's rows.

    Raises ModelValidationError (bad model), ScenarioError (cannot run as asked: months not built,
    no warehouse, no version for a month, warehouse busy) or ScenarioBuildFailed (dbt failed)."""
    started = time.monotonic()
    model_path = Path(model_path)
    model = load_model(model_path)
    months = month_range(month_from, month_to)
    scenario_versions = _versions_for_months(model, model_path, months)

    warehouse = settings.warehouse_path
    if not warehouse.exists():
        raise ScenarioError(f"no warehouse at {warehouse}: run `vardval run --from {months[0]} --to {months[-1]}` "
                            "first (or set VARDVAL_DATA_DIR to the data folder of a region that has run)")

    work_root = settings.data_dir / "scenarios"
    work_root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_work(work_root)
    work = Path(tempfile.mkdtemp(prefix=f".work-{os.getpid()}-{scenario_name(model_path)}-", dir=work_root))
    try:
        copy = work / "warehouse.duckdb"   # the name profiles.yml expects under VARDVAL_DATA_DIR
        current, units, current_versions = _read_current_and_copy(warehouse, months, copy)
        say(f"copied the warehouse ({warehouse.stat().st_size / 1e6:.0f} MB) to a private work copy; "
            f"recomputing {months[0]}..{months[-1]} under {model_path.name}")
        _install_model(copy, model, months, settings.min_cell)
        log_dir.mkdir(parents=True, exist_ok=True)
        dbt_log = log_dir / f"{scenario_name(model_path)}_{months[0]}_{months[-1]}.dbt.log"
        _run_dbt(work, dbt_log)
        scenario = _read_scenario(copy, months)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    return ScenarioResult(
        name=scenario_name(model_path), model_path=model_path.resolve(),
        model_sha256=hashlib.sha256(model_path.read_bytes()).hexdigest(), months=months,
        warehouse_path=warehouse, current=current, scenario=scenario, units=units,
        current_versions=current_versions, scenario_versions=scenario_versions, dbt_log=dbt_log,
        seconds=time.monotonic() - started)


def _remove_abandoned_work(work_root: Path) -> None:
    """Work copies left by a scenario process that was killed (the pid is the name's 2nd field)."""
    for folder in work_root.glob(".work-*"):
        pid = folder.name.split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                shutil.rmtree(folder, ignore_errors=True)
            except PermissionError:
                pass


def _versions_for_months(model: ReimbursementModel, model_path: Path, months: list[str]) -> dict[str, str]:
    versions = {}
    for month in months:
        try:
            versions[month] = version_for_month(model, month).valid_from.isoformat()
        except LookupError:
            raise ScenarioError(f"{model_path.name}: no version is valid on {month}-01; the scenario's "
                                f"versions must cover every month {months[0]}..{months[-1]} "
                                f"(valid_from/valid_to)") from None
    return versions


def _read_current_and_copy(warehouse: Path, months: list[str], copy: Path):
    """Read today's figures and copy the file while holding it read-only (no run can write meanwhile)."""
    try:
        with connect(warehouse, read_only=True) as con:
            tables = {row[0] for row in con.execute(
                "select table_schema || '.' || table_name from information_schema.tables").fetchall()}
            built: set[str] = set()
            if {"marts.reimbursement_monthly", "marts.indicators_monthly"} <= tables:
                built = {row[0] for row in con.execute(
                    "select distinct r.month from marts.reimbursement_monthly r "
                    "where r.month between ? and ? and exists (select 1 from marts.indicators_monthly i "
                    "where i.month = r.month)", [months[0], months[-1]]).fetchall()}
            missing = [m for m in months if m not in built]
            if missing:
                raise ScenarioError(
                    f"month(s) {', '.join(missing)} are not built in the warehouse {warehouse}: "
                    f"run `vardval run --from {missing[0]} --to {missing[-1]}` first "
                    "(a scenario recomputes built months; it never ingests)")
            current = con.execute(
                f"select {_MONTHLY_COLUMNS} from marts.reimbursement_monthly where month between ? and ? "
                "order by month, vardcentral_hsa_id", [months[0], months[-1]]).df()
            current_versions = con.execute(
                "select month, any_value(model_version_id) as model_version_id, "
                "any_value(model_valid_from) as model_valid_from from marts.reimbursement_monthly "
                "where month between ? and ? group by month order by month", [months[0], months[-1]]).df()
            # a unit with registry history: its latest row (names and owner types for the tables)
            units = con.execute(
                "select hsa_id, name, owner_type from raw.vardcentraler where unit_type = 'vardcentral' "
                "qualify row_number() over (partition by hsa_id order by valid_from desc nulls last) = 1").df()
            # A consistent copy: the file and any write-ahead log, while no writer can hold it.
            shutil.copyfile(warehouse, copy)
            wal = warehouse.with_name(warehouse.name + ".wal")
            if wal.exists():
                shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
    except WarehouseBusy as exc:
        raise ScenarioError(f"{exc} A scenario needs a moment of read access to copy it.") from None
    return current, units, current_versions


def _install_model(copy: Path, model: ReimbursementModel, months: list[str], min_cell: int) -> None:
    """The copy's raw.model_* become the scenario's model; raw.run_window the scenario's months."""
    with duckdb.connect(str(copy)) as con:
        con.execute("begin")
        for table, frame in model_tables(model).items():
            con.execute(f"delete from raw.{table}")
            if len(frame):
                con.register("model_rows", frame)
                con.execute(f"insert into raw.{table} by name select * from model_rows")
                con.unregister("model_rows")
        con.execute("delete from raw.run_window")
        con.execute("insert into raw.run_window values (?, ?, ?)", [months[0], months[-1], int(min_cell)])
        con.execute("commit")


def _run_dbt(work: Path, log_path: Path) -> None:
    target = work / "dbt_target"
    target.mkdir()
    # A full parse (~5 s): the profile's path differs from the project's parse, so dbt could not reuse it.
    env = {**os.environ, "VARDVAL_DATA_DIR": str(work), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt) if dbt.exists() else "dbt", "build", "--select", *DBT_SELECT, *DBT_EXCLUDE,
               "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
               "--target-path", str(target), "--log-path", str(work / "dbt_logs")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=DBT_PROJECT_DIR)
    log_path.write_text(f"$ {' '.join(command)}\n# {dt.datetime.now().isoformat(timespec='seconds')}\n"
                        f"{result.stdout}\n{result.stderr}", encoding="utf-8")
    if result.returncode != 0:
        lines = [line for line in result.stdout.splitlines()
                 if any(word in line for word in (" ERROR ", " FAIL ", "Error", "Failure in", "Done."))]
        raise ScenarioBuildFailed("dbt failed on the scenario's copy of the warehouse:\n  "
                                  + "\n  ".join(lines[-15:] or result.stdout.splitlines()[-15:])
                                  + f"\nfull dbt output: {log_path}")


def _read_scenario(copy: Path, months: list[str]) -> pd.DataFrame:
    with duckdb.connect(str(copy), read_only=True) as con:
        return con.execute(
            f"select {_MONTHLY_COLUMNS} from marts.reimbursement_monthly where month between ? and ? "
            "order by month, vardcentral_hsa_id", [months[0], months[-1]]).df()


# --------------------------------------------------------------------------------------------
# The comparison


def compare_monthly(result: ScenarioResult) -> pd.DataFrame:
    """Long rows per month, VC and component: current_sek, scenario_sek, diff_sek, diff_pct."""
    keys = ["month", "vardcentral_hsa_id"]
    merged = result.current.merge(result.scenario, on=keys, how="outer", suffixes=("_current", "_scenario"),
                                  indicator=True)
    merged["owner_type"] = merged["owner_type_current"].fillna(merged["owner_type_scenario"])
    merged["listed_count"] = merged["listed_count_current"].fillna(merged["listed_count_scenario"])
    frames = []
    for component in COMPONENTS:
        frame = merged[keys + ["owner_type", "listed_count"]].copy()
        frame["component"] = component
        frame["current_sek"] = merged[f"{component}_current"].fillna(0.0).astype(float)
        frame["scenario_sek"] = merged[f"{component}_scenario"].fillna(0.0).astype(float)
        frames.append(frame)
    long = pd.concat(frames, ignore_index=True)
    long = _with_diff(long)
    names = result.units.set_index("hsa_id")["name"]
    long.insert(2, "vardcentral_name", long["vardcentral_hsa_id"].map(names))
    long["listed_count"] = long["listed_count"].fillna(0).astype("int64")
    return long


def summarise(monthly: pd.DataFrame) -> pd.DataFrame:
    """Summed over the months per VC and component, plus vardcentral_hsa_id 'REGION' rows.

    listed_count is the mean over the months (persons, rounded)."""
    by_vc = (monthly.groupby(["vardcentral_hsa_id", "component"], as_index=False, sort=False)
             .agg(vardcentral_name=("vardcentral_name", "first"), owner_type=("owner_type", "first"),
                  listed_count=("listed_count", "mean"), current_sek=("current_sek", "sum"),
                  scenario_sek=("scenario_sek", "sum")))
    per_month_region = (monthly.groupby(["month", "component"], as_index=False)
                        .agg(listed_count=("listed_count", "sum"), current_sek=("current_sek", "sum"),
                             scenario_sek=("scenario_sek", "sum")))
    region = (per_month_region.groupby("component", as_index=False, sort=False)
              .agg(listed_count=("listed_count", "mean"), current_sek=("current_sek", "sum"),
                   scenario_sek=("scenario_sek", "sum")))
    region["vardcentral_hsa_id"] = "REGION"
    region["vardcentral_name"] = "Hela regionen"
    region["owner_type"] = None
    summary = pd.concat([by_vc, region[by_vc.columns]], ignore_index=True)
    summary["listed_count"] = summary["listed_count"].round().astype("int64")
    order = {c: i for i, c in enumerate(COMPONENTS)}
    summary = (summary.assign(_region=summary["vardcentral_hsa_id"].eq("REGION"),
                              _order=summary["component"].map(order))
               .sort_values(["_region", "vardcentral_hsa_id", "_order"]).drop(columns=["_region", "_order"]))
    return _with_diff(summary).reset_index(drop=True)


def _with_diff(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["diff_sek"] = frame["scenario_sek"] - frame["current_sek"]
    # Percent of today's amount; null where today's amount is 0 (a new component has no base).
    base = frame["current_sek"].where(frame["current_sek"].abs() > 1e-9)
    frame["diff_pct"] = (100.0 * frame["diff_sek"] / base.abs()).astype(float)
    return frame
