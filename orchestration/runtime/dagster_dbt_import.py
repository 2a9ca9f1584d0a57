"""Part of the `lean_dbt` piece (orchestration/runtime): dagster-dbt in the run's process
without importing dbt-core (~2 s of a region month's start).

dagster-dbt drives dbt as a subprocess (here our dbt worker) and supports having no dbt-core
beside it (for dbt Fusion): it then reads dbt's JSON events with its own status enums. It
imports dbt-core at its own import only for those enums and to evaluate `@dbt_assets`'
`select=` against the manifest. So dbt-core is hidden from dagster-dbt's import, and the two
selections the definitions use are evaluated from the manifest here, with dbt's default
(eager) indirect selection of tests; `tests/test_dbt_selection.py` holds them equal to
dbt's own selector. A process that already imported dbt or dagster-dbt (the test suite), or
that runs with `lean_dbt` off, keeps dagster-dbt's dbt-core path; both paths select the same
nodes. `orchestration/definitions.py` calls `import_dagster_dbt` before it imports a dbt asset.
"""
import importlib.abc
import sys
from collections.abc import Mapping
from typing import Any

from orchestration.runtime import enabled

MATERIALIZED = "config.materialized:"


class _DbtCoreHidden(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "dbt" or name.startswith("dbt."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


# dagster-dbt's own selection, for any selection not evaluated here.
_dagster_dbt_select = None


def import_dagster_dbt() -> None:
    """With `lean_dbt`: import dagster-dbt (dbt-core hidden unless already imported) and install
    the selection. Without it, nothing: dagster-dbt is imported as it is, where it is used."""
    if not enabled("lean_dbt"):
        return
    hidden = _DbtCoreHidden() if "dagster_dbt" not in sys.modules and "dbt" not in sys.modules else None
    if hidden is not None:
        sys.meta_path.insert(0, hidden)
    try:
        import dagster_dbt.asset_utils
    finally:
        if hidden is not None:
            sys.meta_path.remove(hidden)
    global _dagster_dbt_select
    if dagster_dbt.asset_utils.select_unique_ids is not select_unique_ids:
        _dagster_dbt_select = dagster_dbt.asset_utils.select_unique_ids
        dagster_dbt.asset_utils.select_unique_ids = select_unique_ids


def select_unique_ids(select: str, exclude: str, selector: str, project,
                      manifest_json: Mapping[str, Any]) -> set[str]:
    """`config.materialized:a config.materialized:b` (a union), as dbt selects it: those models,
    and every test and unit test that reads one of them. Any other selection goes to dagster-dbt."""
    terms = select.split()
    if exclude or selector or not terms or not all(term.startswith(MATERIALIZED) for term in terms):
        if _dagster_dbt_select is None:
            raise ValueError(f"unsupported dbt selection {select!r}")
        return _dagster_dbt_select(select=select, exclude=exclude, selector=selector, project=project,
                                   manifest_json=manifest_json)
    materializations = {term[len(MATERIALIZED):] for term in terms}
    models = {unique_id for unique_id, node in manifest_json["nodes"].items()
              if node["resource_type"] == "model" and node["config"].get("materialized") in materializations}
    tests = {unique_id
             for collection in (manifest_json["nodes"], manifest_json.get("unit_tests") or {})
             for unique_id, node in collection.items()
             if node["resource_type"] in ("test", "unit_test") and models & set(node["depends_on"]["nodes"])}
    return models | tests
