"""The event log the CLI's Dagster home uses (orchestration/runtime/eventlog.py): Dagster's own SQLite
files, written with connections kept open, and readable by Dagster's plain storage."""
from __future__ import annotations

import hashlib
import os

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from orchestration.cli.dagster_home import dagster_yaml
from orchestration.runtime.eventlog import KEPT_RUN_ENGINES, PooledSqliteEventLogStorage
from orchestration.runtime.parallel import map_forked


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="numbers")])
def numbers():
    yield dg.MaterializeResult(metadata={"rows": 3})
    yield dg.AssetCheckResult(check_name="positive", passed=True)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text(dagster_yaml(tmp_path))
    return tmp_path


def test_the_cli_home_records_runs_that_dagsters_own_storage_reads(home):
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        for _ in range(2):
            assert dg.materialize([numbers], instance=instance).success

    # Read through the home's own configuration (not $DAGSTER_HOME), and by Dagster's own class.
    os.environ["DAGSTER_HOME"] = str(home.parent)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert len(instance.fetch_materializations(dg.AssetKey("numbers"), limit=10).records) == 2
    plain = SqliteEventLogStorage(str(home / "history" / "runs"))
    materializations = plain.fetch_materializations(dg.AssetKey("numbers"), limit=10).records
    assert [r.asset_materialization.metadata["rows"].value for r in materializations] == [3, 3]
    check = plain.get_latest_asset_check_execution_by_key([dg.AssetCheckKey(dg.AssetKey("numbers"), "positive")])
    assert check[dg.AssetCheckKey(dg.AssetKey("numbers"), "positive")].status.value == "SUCCEEDED"


def test_a_write_reaches_the_runs_db_file_the_ui_watches(home):
    """Dagster's UI follows a run from another process by watching its .db file; in WAL mode a
    commit alone would only touch the -wal file."""
    with dg.DagsterInstance.get() as instance:
        run = dg.materialize([numbers], instance=instance)
        db = home / "history" / "runs" / f"{run.run_id}.db"
        before = hashlib.sha256(db.read_bytes()).hexdigest()
        instance.report_engine_event("one more line", instance.get_run_by_id(run.run_id))
        assert hashlib.sha256(db.read_bytes()).hexdigest() != before


def test_engines_are_kept_for_the_index_and_the_latest_runs_only(home):
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        run_ids = [dg.materialize([numbers], instance=instance).run_id for _ in range(KEPT_RUN_ENGINES + 2)]
        kept = set(storage._engines)
        assert kept == {"index", *run_ids[-KEPT_RUN_ENGINES:]}
        # A run whose engine was let go is opened again when read.
        assert instance.get_records_for_run(run_ids[0]).records


def _child_engines(_: int) -> int:
    import gc

    return sum(len(obj._engines) for obj in gc.get_objects() if isinstance(obj, PooledSqliteEventLogStorage))


def test_a_forked_worker_does_not_inherit_the_open_connections(home, monkeypatch):
    monkeypatch.setenv("VARDVAL_WORKERS", "2")
    with dg.DagsterInstance.get() as instance:
        dg.materialize([numbers], instance=instance)
        assert len(instance.event_log_storage._engines) == 2
        assert map_forked(_child_engines, [1, 2, 3, 4]) == [0, 0, 0, 0]
        assert len(instance.event_log_storage._engines) == 2
