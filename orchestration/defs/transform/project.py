"""The dbt project, its manifest (parsed once when stale), and the vars a run passes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.runtime.dbt_worker import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_run_window(month_from: str, month_to: str, min_cell: int) -> dict:
    """What one dbt build is for: the run's month range (inclusive) and the suppression limit.

    Written to raw.run_window rather than passed as --vars, so dbt's parse survives between runs."""
    if month_from > month_to:
        raise ValueError(f"month_from {month_from} is after month_to {month_to}")
    return {"month_from": month_from, "month_to": month_to, "min_cell": int(min_cell)}


def _newest_source_mtime() -> float:
    paths = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        paths += [p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in paths if p.exists())


def ensure_manifest() -> Path:
    """Parse the project only when a model, macro or test changed since the last parse."""
    manifest = dbt_project.manifest_path
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime():
        return manifest
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.setdefault("VARDVAL_DATA_DIR", str(DBT_PROJECT_DIR.parent / "data"))
    dbt = Path(sys.executable).with_name("dbt")
    result = subprocess.run(
        [str(dbt), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(dbt_project.target_path)],
        capture_output=True, text=True, env=env, cwd=DBT_PROJECT_DIR)
    if result.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    return manifest
