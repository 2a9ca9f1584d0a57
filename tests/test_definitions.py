"""The Dagster definitions by domain (the GUIDE's dagster-open-platform model): each folder under
orchestration/defs/ brings its own Definitions, and orchestration/definitions.py only merges them."""
from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

DOMAINS = ("sources", "transform", "publication", "operations")
ROOT = Path(__file__).resolve().parents[1]


def test_each_domain_brings_its_own_definitions_and_the_root_only_merges_them():
    from orchestration.definitions import defs

    own = {d: importlib.import_module(f"orchestration.defs.{d}.definitions").defs for d in DOMAINS}
    assert all(isinstance(d, dg.Definitions) for d in own.values())
    # every asset, check, job, schedule and sensor comes from exactly one domain
    assets = [a for d in own.values() for a in d.assets or []]
    keys = [k for a in assets for k in a.keys]
    assert len(keys) == len(set(keys))
    graph = defs.resolve_asset_graph()
    assert set(keys) == {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    assert {c for a in assets for c in a.check_keys} == set(graph.asset_check_keys)
    assert [j.name for j in own["operations"].jobs] == ["monthly_job"]
    assert [s.name for s in own["operations"].schedules] == ["previous_month_schedule"]
    assert [s.name for s in own["operations"].sensors] == ["landing_sensor"]
    assert set(own["transform"].resources) == {"dbt"}
    # the root imports the domains' Definitions and nothing else of ours, but the runtime's
    # dagster-dbt import, which has to run before the transform domain imports dagster-dbt
    tree = ast.parse((ROOT / "orchestration" / "definitions.py").read_text(encoding="utf-8"))
    ours = sorted(f"{n.module}.{alias.name}" if n.module.startswith("orchestration.defs.") else n.module
                  for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                  and n.module and n.module.startswith("orchestration") for alias in n.names)
    assert ours == sorted([*(f"orchestration.defs.{d}.definitions" for d in DOMAINS),
                           "orchestration.runtime.dagster_dbt_import"])


def test_the_code_location_loads_as_the_webserver_loads_it(tmp_path):
    """Dagster's loader accepts one Definitions object at a module's scope: the root must bind
    the domains' modules, not their Definitions."""
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "DAGSTER_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful for code location vardval" in result.stdout + result.stderr
