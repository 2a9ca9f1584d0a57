"""dagster-dbt runs in the run's process without dbt-core (orchestration/runtime/dagster_dbt_import.py):
the dbt selections are evaluated from the manifest, and must select what dbt's own selector does."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.defs.transform.assets import MANIFEST_PATH, MONTHLY_SELECTION
from orchestration.defs.transform.views import VIEW_SELECTION
from orchestration.runtime.dagster_dbt_import import select_unique_ids

REPO = Path(__file__).resolve().parents[1]


# dbt's own selector, through dagster-dbt imported with dbt-core (a fresh process: this one
# may have imported dagster-dbt without it).
DBT_CORE_SELECTION = """
import json, sys
import dbt.version
from dagster_dbt.utils import select_unique_ids
manifest = json.load(open(sys.argv[1], encoding="utf-8"))
print(json.dumps(sorted(select_unique_ids(sys.argv[2], "", "", None, manifest))))
"""


@pytest.mark.parametrize("selection", [MONTHLY_SELECTION, VIEW_SELECTION])
def test_selection_is_dbts_own(selection):
    manifest = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    ours = select_unique_ids(selection, "", "", None, manifest)
    out = subprocess.run([sys.executable, "-c", DBT_CORE_SELECTION, str(MANIFEST_PATH), selection],
                         cwd=REPO, capture_output=True, text=True, check=True)
    assert sorted(ours) == json.loads(out.stdout)
    assert any(unique_id.startswith("test.") for unique_id in ours)  # the models' tests come along
    assert any(unique_id.startswith("unit_test.") for unique_id in ours)


def test_other_selections_are_not_evaluated_here():
    with pytest.raises(Exception):
        select_unique_ids("tag:nightly", "", "", None, {"nodes": {}, "sources": {}, "metadata": {}})


DESCRIBE_DEFINITIONS = """
import sys
{first}
import orchestration.definitions as d
graph = d.defs.resolve_asset_graph()
print(sorted(k.to_user_string() for k in graph.get_all_asset_keys()))
print(sorted(str(k) for k in graph.asset_check_keys))
print("dbt" in sys.modules)
"""


def _definitions(first: str) -> list[str]:
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", DESCRIBE_DEFINITIONS.format(first=first)],
                         cwd=REPO, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()


def test_definitions_load_without_dbt_core_and_equal_the_dbt_core_path():
    without = _definitions("")
    with_core = _definitions("import dbt.version")
    assert without[2] == "False", "loading the definitions imported dbt-core"
    assert with_core[2] == "True"
    assert without[:2] == with_core[:2]
    assert "'marts', 'indicators_monthly'" in without[0] or "marts/indicators_monthly" in without[0]
