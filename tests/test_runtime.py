"""The runtime switch (orchestration/runtime): `VARDVAL_RUNTIME=plain` is stock dagster-dbt, Dagster's
own storage and one process, `fast` takes every piece, and both publish the same bytes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster_dbt import DbtCliResource

from core.settings import RUNTIME_PIECES, get_settings, runtime_pieces
from orchestration.cli.dagster_home import dagster_yaml, prepare_environment
from orchestration.runtime import enabled
from orchestration.runtime.dbt_resource import FastDbtCliResource, dbt_cli_resource
from orchestration.runtime.dbt_worker import client_path, start_worker
from orchestration.runtime.eventlog import PooledSqliteEventLogStorage
from orchestration.runtime.parallel import map_forked, worker_count
from tests.conftest import REGION_MONTHS
from tests.pipeline_fixture import Region, published_db_content
from tests.test_repeatability import manifests, published_bytes

REPO = Path(__file__).resolve().parents[1]


def test_the_switch_reads_fast_plain_or_a_list_of_pieces(monkeypatch):
    monkeypatch.delenv("VARDVAL_RUNTIME", raising=False)
    assert get_settings().runtime == frozenset(RUNTIME_PIECES)          # fast by default
    assert runtime_pieces("plain") == frozenset()
    assert runtime_pieces(" Fast ") == frozenset(RUNTIME_PIECES)
    assert runtime_pieces("eventlog, fork_pool") == {"eventlog", "fork_pool"}
    with pytest.raises(ValueError, match="VARDVAL_RUNTIME='turbo': not a runtime piece: turbo"):
        runtime_pieces("turbo")
    monkeypatch.setenv("VARDVAL_RUNTIME", "eventlog")
    assert enabled("eventlog") and not enabled("fork_pool")
    with pytest.raises(ValueError):
        enabled("warp")


@pytest.fixture
def home_env(tmp_path, monkeypatch):
    for name in ("DBT_SEND_ANONYMOUS_USAGE_STATS", "DAGSTER_DISABLE_TELEMETRY", "VARDVAL_DBT_WORKER"):
        monkeypatch.setenv(name, "x")
    monkeypatch.delenv("VARDVAL_DBT_WORKER")
    monkeypatch.setenv("VARDVAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VARDVAL_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    return tmp_path


def test_plain_is_stock_dagster_dbt_dagsters_own_storage_and_one_process(home_env, monkeypatch):
    monkeypatch.setenv("VARDVAL_RUNTIME", "plain")
    resource = dbt_cli_resource(project_dir=str(REPO / "dbt_project"))
    assert type(resource) is DbtCliResource
    assert Path(resource.dbt_executable).name == "dbt"
    prepare_environment(get_settings())
    home = home_env / "home"
    assert "event_log_storage" not in yaml.safe_load((home / "dagster.yaml").read_text())
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
    assert worker_count() == 1
    assert map_forked(lambda _: __import__("os").getpid(), [1, 2, 3, 4]) == [__import__("os").getpid()] * 4
    assert start_worker(home_env / "data") is None


def test_fast_takes_every_piece_and_the_home_follows_the_switch(home_env, monkeypatch):
    monkeypatch.setenv("VARDVAL_RUNTIME", "fast")
    resource = dbt_cli_resource(project_dir=str(REPO / "dbt_project"))
    assert isinstance(resource, FastDbtCliResource) and resource.lean
    if client_path().exists():
        assert Path(resource.dbt_executable) == client_path()
    prepare_environment(get_settings())
    home = home_env / "home"
    assert (home / "dagster.yaml").read_text() == dagster_yaml(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
    monkeypatch.setenv("VARDVAL_RUNTIME", "plain")          # ours either way: rewritten both ways
    prepare_environment(get_settings())
    assert (home / "dagster.yaml").read_text() == dagster_yaml(home, pooled_event_log=False)
    monkeypatch.setenv("VARDVAL_RUNTIME", "fast")
    prepare_environment(get_settings())
    assert (home / "dagster.yaml").read_text() == dagster_yaml(home)


def test_a_home_written_with_the_event_logs_earlier_module_is_upgraded(home_env, monkeypatch):
    monkeypatch.delenv("VARDVAL_RUNTIME", raising=False)
    home = home_env / "home"
    home.mkdir()
    earlier = dagster_yaml(home).replace("orchestration.runtime.eventlog", "orchestration.eventlog")
    (home / "dagster.yaml").write_text(earlier)
    prepare_environment(get_settings())
    assert (home / "dagster.yaml").read_text() == dagster_yaml(home)


def test_plain_definitions_import_dbt_core_and_equal_the_fast_ones(monkeypatch):
    from tests.test_dbt_selection import _definitions

    monkeypatch.setenv("VARDVAL_RUNTIME", "fast")
    fast = _definitions("")
    monkeypatch.setenv("VARDVAL_RUNTIME", "plain")
    plain = _definitions("")
    assert fast[2] == "False" and plain[2] == "True"      # dagster-dbt's own dbt-core path when plain
    assert plain[:2] == fast[:2]


NO_SIDE_EFFECTS = """
import sys, threading
threads = threading.active_count()
import orchestration.defs.transform, orchestration.runtime.dbt_worker, orchestration.runtime.eventlog
import orchestration.runtime.memory, orchestration.runtime.parallel, orchestration.runtime.preload
import orchestration.runtime.exit, orchestration.runtime.dagster_dbt_import
ours = [finder for finder in sys.meta_path if type(finder).__module__.startswith("orchestration")]
print(ours == [], threading.active_count() == threads, "dagster_dbt" in sys.modules)
"""


def test_importing_the_runtime_does_nothing():
    out = subprocess.run([sys.executable, "-c", NO_SIDE_EFFECTS], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "True", "False"]


@pytest.mark.slow
def test_a_plain_run_publishes_what_the_fast_run_published(published_region, tmp_path):
    """`published_region` ran with the default, fast; the same months from scratch with plain
    must publish byte-identical files, manifests and published.duckdb."""
    plain = Region(tmp_path / "plain")
    plain.generate(REGION_MONTHS)
    result = plain.vardval("run", "--from", REGION_MONTHS[0], "--to", REGION_MONTHS[-1], VARDVAL_RUNTIME="plain")
    assert result.returncode == 0, f"{result.stdout[-5000:]}\n{result.stderr[-3000:]}"
    home = yaml.safe_load((plain.root / "dagster_home" / "dagster.yaml").read_text())
    assert "event_log_storage" not in home                     # it did run plain
    assert "event_log_storage" in yaml.safe_load((published_region.root / "dagster_home" / "dagster.yaml").read_text())

    expected = published_bytes(published_region)
    assert any(p.startswith("versions/2025-02/v0001/") for p in expected)
    assert published_bytes(plain) == expected
    assert manifests(plain) == manifests(published_region)
    assert published_db_content(plain) == published_db_content(published_region)


def test_an_unknown_runtime_is_a_clear_message_and_exit_2(tmp_path):
    from tests.test_cli import vardval

    result = vardval(tmp_path, "status", VARDVAL_RUNTIME="eventlog,turbo")
    assert result.returncode == 2
    assert "VARDVAL_RUNTIME='eventlog,turbo': not a runtime piece: turbo; use fast, plain" in result.stderr
    assert "Traceback" not in result.stderr
