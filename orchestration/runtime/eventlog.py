"""The `eventlog` piece (orchestration/runtime): Dagster's SQLite event log, with its database
connections kept open. `vardval`'s Dagster home names it in its `dagster.yaml` when the piece
is on (orchestration/cli/dagster_home.py); without it the home uses Dagster's own class.

Dagster's `SqliteEventLogStorage` creates a SQLAlchemy engine, opens the file, commits and
disposes of the engine for every event it stores or reads: 4–8 ms an event on this machine,
and a region month records ~280 events. Asset-check events pay it several times: each also
asks SQLite whether the asset-check tables exist. py-spy put this at ~5.7 CPU-s of a region
month, plus ~2 s in the `vardval run` progress feed, which reads the run's events every 0.3 s.

This subclass keeps one engine per database (the index and the most recent runs'), and
remembers which tables exist. The files, the schema and the locking are Dagster's own, so
`dagster dev` and a plain `SqliteEventLogStorage` read the same history.

One behaviour of the original is kept on purpose. The UI follows a run started in another
process by watching the run's `.db` file for changes. In WAL mode a commit only appends to
the `-wal` file; the original's close checkpointed it into the `.db`. So a transaction that
wrote to a run's database is checkpointed here (PASSIVE: it never waits on readers).
"""
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

# Open run databases kept beside the index: a long-lived UI reads many runs.
KEPT_RUN_ENGINES = 8

_STORAGES: "weakref.WeakSet[PooledSqliteEventLogStorage]" = weakref.WeakSet()
_fork_hook_registered = False


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with its engines kept open. Configured in `dagster.yaml`:

        event_log_storage:
          module: orchestration.runtime.eventlog
          class: PooledSqliteEventLogStorage
          config:
            base_dir: /absolute/path/to/dagster_home/history/runs

    `base_dir` is required: the class is not told which Dagster home loaded it, so it cannot
    default to the home's `history/runs` as Dagster's class does (the CLI writes it).
    """

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._existing_tables: set[str] = set()
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data=inst_data)
        _STORAGES.add(self)
        _register_fork_hook()

    @classmethod
    def config_type(cls):
        return {"base_dir": StringSource}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn:
                sqlite = conn.connection.driver_connection
                changes = sqlite.total_changes
                with conn.begin():
                    yield conn
                if shard != INDEX_SHARD_NAME and sqlite.total_changes != changes:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
                return engine
            engine = create_engine(self.conn_string_for_shard(shard), pool_size=1,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            self._engines[shard] = engine
            runs = [name for name in self._engines if name != INDEX_SHARD_NAME]
            for old in runs[:-KEPT_RUN_ENGINES]:
                self._engines.pop(old).dispose()
            return engine

    def has_table(self, table_name: str) -> bool:
        # Asked before every asset-check event; a table, once there, stays.
        if table_name in self._existing_tables:
            return True
        exists = super().has_table(table_name)
        if exists:
            self._existing_tables.add(table_name)
        return exists

    def _dispose_engines(self, close: bool = True) -> None:
        with self._engines_lock:
            engines = list(self._engines.values())
            self._engines.clear()
        for engine in engines:
            engine.dispose(close=close)

    def wipe(self) -> None:
        self._dispose_engines()  # wipe deletes the run databases' files
        self._existing_tables.clear()
        super().wipe()

    def upgrade(self) -> None:
        self._dispose_engines()
        super().upgrade()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


def _forget_engines_in_child() -> None:
    # A forked worker must not use or close its parent's SQLite connections.
    for storage in list(_STORAGES):
        storage._engines_lock = threading.Lock()  # another thread may have held it at the fork
        storage._dispose_engines(close=False)


def _register_fork_hook() -> None:
    """Once per process, with its first storage (a fork hook cannot be unregistered)."""
    global _fork_hook_registered
    if not _fork_hook_registered:
        os.register_at_fork(after_in_child=_forget_engines_in_child)
        _fork_hook_registered = True
