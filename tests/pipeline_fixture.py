"""A small synthetic region run through the real pipeline (`vardval` in a subprocess).

Each `Region` has its own landing folder, data folder, Dagster home and key, so tests never
share state. `Region.copy()` clones a region that has already run, for tests that change it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from sources.synthetic import generate_region

SCALE = 0.02          # ~5 700 listed: every code path, seconds per month
VARDVAL = str(Path(sys.executable).with_name("vardval"))


@dataclass
class Region:
    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    @property
    def published(self) -> Path:
        return self.data / "published"

    def env(self, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VARDVAL_", "DAGSTER_"))}
        env.update({
            "VARDVAL_LANDING_DIR": str(self.landing),
            "VARDVAL_DATA_DIR": str(self.data),
            "VARDVAL_PSEUDONYM_KEY": "test-key-not-secret",
            "DAGSTER_HOME": str(self.root / "dagster_home"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DAGSTER_DISABLE_TELEMETRY": "true",
        })
        env.update(extra)
        return env

    def generate(self, months: list[str], scale: float = SCALE) -> None:
        generate_region(self.landing, months, scale=scale)

    def vardval(self, *args: str, timeout: int = 600, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([VARDVAL, *args], capture_output=True, text=True, env=self.env(**env),
                              timeout=timeout, cwd=self.root)

    def copy(self, destination: Path) -> "Region":
        shutil.copytree(self.root, destination, symlinks=True)
        return Region(destination)

    def query(self, sql: str, database: Path | None = None) -> list[tuple]:
        with duckdb.connect(str(database or self.warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()


def published_db_content(region: Region) -> dict[str, list]:
    """Every table and view of published.duckdb, rows in order (published_at and paid_at aside)."""
    db = region.published / "published.duckdb"
    tables = [t for (t,) in region.query("select table_name from information_schema.tables order by 1", db)]
    volatile = {"published_versions": "published_at", "payouts": "paid_at"}
    return {t: region.query(f"select * exclude ({volatile[t]}) from {t} order by all" if t in volatile
                            else f"select * from {t} order by all", db) for t in tables}


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file below folder, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_ok(region: Region, *args: str) -> subprocess.CompletedProcess:
    result = region.vardval(*args)
    assert result.returncode == 0, f"vardval {' '.join(args)} failed:\n{result.stdout[-5000:]}\n{result.stderr[-3000:]}"
    return result
