"""dbt started with the run (orchestration/runtime/dbt_worker.py): the `vardval-dbt` client runs a
command in the waiting worker, or in a dbt of its own when there is none; either way with the
same output format and exit status as dbt."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from orchestration.runtime.dbt_worker import DBT_PROJECT_DIR, SOCKET_ENV, client_path, start_worker

pytestmark = pytest.mark.skipif(not client_path().exists(), reason="vardval-dbt is not installed")


@pytest.fixture
def dbt_env(tmp_path, monkeypatch):
    monkeypatch.delenv(SOCKET_ENV, raising=False)
    monkeypatch.setenv("VARDVAL_DATA_DIR", str(tmp_path))
    return {**os.environ, "DBT_LOG_FORMAT": "json", "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
            "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "target")}


def _client(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(client_path()), "--log-level-file", "none", "--no-write-json", *args],
                          env=env, cwd=DBT_PROJECT_DIR, capture_output=True, text=True, timeout=300)


def _listed_models(stdout: str) -> set[str]:
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return {e["data"]["msg"] for e in events if e["info"]["name"] == "PrintEvent"}


def test_a_command_runs_in_the_worker_with_dbts_output_and_status(dbt_env, tmp_path):
    worker = start_worker(tmp_path)
    try:
        assert os.environ[SOCKET_ENV] == worker.socket_path
        served = _client({**dbt_env, SOCKET_ENV: worker.socket_path},
                         "ls", "--resource-type", "model", "--select", "config.materialized:incremental")
        worker.wait(timeout=30)
        assert worker.process.returncode == 0, "the worker ends after its one command"
    finally:
        worker.stop()
    assert SOCKET_ENV not in os.environ
    assert (tmp_path / "dbt_target" / "partial_parse.msgpack").exists(), "its parse is kept for the next run"

    alone = _client(dbt_env, "ls", "--resource-type", "model", "--select", "config.materialized:incremental")
    assert served.returncode == alone.returncode == 0, served.stdout[-2000:]
    assert _listed_models(served.stdout) == _listed_models(alone.stdout)
    assert "vardval.marts.indicators.indicators_monthly" in _listed_models(served.stdout)


def test_a_failing_command_has_dbts_exit_status_through_the_worker(dbt_env, tmp_path):
    worker = start_worker(tmp_path)
    try:
        served = _client({**dbt_env, SOCKET_ENV: worker.socket_path}, "run-operation", "no_such_macro")
    finally:
        worker.stop()
    alone = _client(dbt_env, "run-operation", "no_such_macro")
    assert alone.returncode != 0
    assert served.returncode == alone.returncode
    assert "no_such_macro" in served.stdout


def test_without_a_worker_the_client_runs_dbt_itself(dbt_env, tmp_path, monkeypatch):
    gone = _client({**dbt_env, SOCKET_ENV: "/nonexistent/worker.sock"}, "--version")
    assert gone.returncode == 0 and "Core" in gone.stdout
    monkeypatch.setenv(SOCKET_ENV, "off")  # the README's switch: no worker, plain dbt
    assert start_worker(tmp_path) is None
    off = _client({**dbt_env, SOCKET_ENV: "off"}, "--version")
    assert off.returncode == 0 and "Core" in off.stdout


def test_a_worker_ends_when_the_process_that_started_it_is_gone(tmp_path, dbt_env):
    starter = ("import sys, pathlib; from orchestration.runtime.dbt_worker import start_worker; "
               "print(start_worker(pathlib.Path(sys.argv[1])).process.pid, flush=True)")
    pid = int(subprocess.run([sys.executable, "-c", starter, str(tmp_path)], env=dbt_env, capture_output=True,
                             text=True, timeout=60, check=True).stdout)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.5)
    assert not _alive(pid)


def test_a_worker_running_a_command_ends_at_once_when_its_client_is_killed(tmp_path, dbt_env):
    """As a plain dbt died with a run killed with its process group: the next run must find the
    warehouse free, not held by dbt finishing the killed run's build."""
    import duckdb

    worker = start_worker(tmp_path)
    try:
        client = subprocess.Popen(
            [str(client_path()), "show", "--inline", "select sum(range) from range(100000000000)"],
            env={**dbt_env, SOCKET_ENV: worker.socket_path}, cwd=DBT_PROJECT_DIR,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (tmp_path / "warehouse.duckdb").exists():
            time.sleep(0.2)
        time.sleep(1)
        assert worker.process.poll() is None, "the query is still running in the worker"
        client.kill()
        client.wait()
        worker.process.wait(timeout=5)
    finally:
        worker.stop()
    duckdb.connect(str(tmp_path / "warehouse.duckdb")).close()   # not held


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
