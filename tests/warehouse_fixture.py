"""A throwaway warehouse with the raw schema, rows inserted by hand, and dbt run against it.

Used by the dbt model tests: hand-calculated fixtures go in as raw rows, the marts come out.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd

from core.warehouse import connect, ensure_schema

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"


class FixtureWarehouse:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.path = data_dir / "warehouse.duckdb"
        with connect(self.path) as con:
            ensure_schema(con)

    def insert(self, table: str, rows: list[dict]) -> None:
        """Insert rows into raw.<table>; columns not given are null."""
        if not rows:
            return
        frame = pd.DataFrame(rows)
        with connect(self.path) as con:
            columns = [r[0] for r in con.execute(f"describe raw.{table}").fetchall()]
            for column in columns:
                if column not in frame.columns:
                    frame[column] = None
            con.register("rows_in", frame[columns])
            con.execute(f"insert into raw.{table} select * from rows_in")

    def dbt(self, *args: str, month_from: str, month_to: str | None = None,
            extra_vars: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
        variables = {"month_from": month_from, "month_to": month_to or month_from, **(extra_vars or {})}
        env = {**os.environ, "VARDVAL_DATA_DIR": str(self.data_dir),
               "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        dbt = Path(sys.executable).with_name("dbt")
        result = subprocess.run(
            [str(dbt), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
             str(DBT_PROJECT_DIR), "--target-path", str(self.data_dir / "dbt_target"),
             "--log-path", str(self.data_dir / "dbt_logs"), "--vars", json.dumps(variables)],
            capture_output=True, text=True, env=env, cwd=DBT_PROJECT_DIR,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
        return result

    def query(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.path), read_only=True) as con:
            return con.sql(sql).df()
