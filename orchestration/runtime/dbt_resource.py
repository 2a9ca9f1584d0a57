"""The dbt resource of a run: stock `DbtCliResource`, or one that skips start-up costs.

With `dbt_worker` and `lean_dbt` both off this is dagster-dbt's own resource, running the
venv's `dbt`. Otherwise a subclass:

* `dbt_worker`: the executable is the worker's client, `vardval-dbt` (dbt_worker.py); a run
  launched from the UI starts its worker here (`vardval run` starts it before loading the
  definitions);
* `lean_dbt`: `dbt --version` (a whole dbt start, ~3 s) is not run: the executable is this
  venv's, so its version is the installed dbt-core's, read from the package metadata; and no
  in-process dbt adapter is made (it imports dbt and loads its macros in the run's process, and
  only serves `fetch_column_metadata` / `fetch_row_counts`, which we do not call). These two
  override private methods of `DbtCliResource` (`_cli_version`, `_initialize_dbt_core_adapter`).
"""
from __future__ import annotations

import importlib.metadata
import sys
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging import version
from pydantic import PrivateAttr

from core.settings import get_settings
from orchestration.runtime import enabled
from orchestration.runtime.dbt_worker import DbtWorker, client_path, start_worker


class FastDbtCliResource(DbtCliResource):
    """DbtCliResource without the start-up costs the run need not pay (module docstring)."""

    lean: bool = False
    _worker: DbtWorker | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        super().setup_for_execution(context)
        if Path(self.dbt_executable) == client_path():
            self._worker = start_worker(get_settings().data_dir)

    def wait_for_worker(self) -> None:
        if self._worker is not None:
            self._worker.wait()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        super().teardown_after_execution(context)

    @cached_property
    def _cli_version(self) -> version.Version:
        if self.lean and Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):
        return None if self.lean else super()._initialize_dbt_core_adapter(args)


def dbt_cli_resource(**config) -> DbtCliResource:
    """The run's dbt resource, as VARDVAL_RUNTIME says (read when the definitions load)."""
    worker, lean = enabled("dbt_worker"), enabled("lean_dbt")
    dbt = Path(sys.executable).with_name("dbt")  # the venv's, whether or not it is on PATH
    executable = client_path() if worker and client_path().exists() else dbt
    executable = str(executable) if executable.exists() else "dbt"
    if not worker and not lean:
        return DbtCliResource(dbt_executable=executable, **config)
    return FastDbtCliResource(dbt_executable=executable, lean=lean, **config)


def wait_for_dbt(dbt: DbtCliResource) -> None:
    """After a dbt command: until its worker has exited, and so closed the warehouse."""
    if isinstance(dbt, FastDbtCliResource):
        dbt.wait_for_worker()
