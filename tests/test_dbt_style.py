"""The dbt project's style and documentation: `sqlfluff lint` is clean under the project's
.sqlfluff, dbt-score keeps the project at 9 or more ([tool.dbt-score] in pyproject.toml), and
every column of every model is described in its YAML (published column comments are made
from the marts' descriptions)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.warehouse_fixture import FixtureWarehouse

REPO = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO / "dbt_project"
BIN = Path(sys.executable).parent


def _env(data_dir: Path) -> dict:
    return {**os.environ, "VARDVAL_DATA_DIR": str(data_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


@pytest.fixture(scope="module")
def manifest_path(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("dbt_style")
    target = data_dir / "target"
    result = subprocess.run(
        [str(BIN / "dbt"), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target)],
        capture_output=True, text=True, env=_env(data_dir), cwd=DBT_PROJECT_DIR)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return target / "manifest.json"


def test_dbt_score_is_at_least_9(manifest_path):
    # The threshold and the rules switched off are pyproject.toml's [tool.dbt-score].
    result = subprocess.run([str(BIN / "dbt-score"), "lint", "--manifest", str(manifest_path),
                             "--show", "failing-items"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Project score" in result.stdout


def test_every_model_and_macro_has_a_description(manifest_path):
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    project = manifest["metadata"]["project_name"]
    undescribed = [node["name"] for node in manifest["nodes"].values()
                   if node["resource_type"] == "model" and not node["description"].strip()]
    undescribed += [macro["name"] for macro in manifest["macros"].values()
                    if macro["package_name"] == project and not macro["description"].strip()]
    assert not undescribed, undescribed


@pytest.mark.slow
def test_every_column_of_every_model_is_described(tmp_path):
    """Against the models as built (empty), not only the columns the YAML lists: a column a
    model gains must be documented, and a documented column must exist."""
    warehouse = FixtureWarehouse(tmp_path)
    warehouse.dbt("run", "--empty", month_from="2025-01")
    manifest = json.loads((tmp_path / "dbt_target" / "manifest.json").read_text(encoding="utf-8"))
    problems = []
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        for node in manifest["nodes"].values():
            if node["resource_type"] != "model":
                continue
            built = [row[0] for row in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [node["schema"], node["alias"]]).fetchall()]
            assert built, f"{node['name']} was not built"
            described = {name for name, column in node["columns"].items()
                         if (column.get("description") or "").strip()}
            problems += [f"{node['name']}.{name}: no description" for name in built if name not in described]
            problems += [f"{node['name']}.{name}: documented but not a column"
                         for name in node["columns"] if name not in built]
    assert not problems, problems


@pytest.mark.slow
def test_sqlfluff_lint_is_clean(tmp_path):
    # .sqlfluff at the repository root: dialect duckdb, the dbt templater on dbt_project (whose
    # profile opens a warehouse in VARDVAL_DATA_DIR).
    result = subprocess.run(
        [str(BIN / "sqlfluff"), "lint", str(DBT_PROJECT_DIR / "models"), "--processes", "2",
         "--format", "github-annotation-native", "--annotation-level", "failure"],
        capture_output=True, text=True, env=_env(tmp_path), cwd=REPO, timeout=600)
    assert result.returncode == 0, (result.stdout[-8000:] or result.stderr[-4000:])
