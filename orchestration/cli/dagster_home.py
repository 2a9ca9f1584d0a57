"""The Dagster home `vardval` runs in (and `vardval ui` shows): its `dagster.yaml`, written for the run.

One writer at a time on the warehouse: every asset is in the pool "warehouse" (one step at a
time across all runs, the CLI's included), and the daemon launches one run at a time. No
telemetry, no newsletter pop-up in the UI. No compute-log capture: Dagster mirrors each
captured step's stdout/stderr through `tail -F` processes (two, plus two watchers, per
capture), and when a `vardval run` was piped they were seen outliving it, holding the pipe. Our
steps log through context.log; dbt's output goes to <data>/logs/run_<id>.log. With the runtime's
`eventlog` piece, the event log is Dagster's SQLite files with their connections kept open
(orchestration/runtime/eventlog.py), at the place Dagster's default uses; without it, Dagster's own.

A `dagster.yaml` that `vardval` wrote (this version's, an earlier version's, or one for another
place: a copied or moved home, whose event log must then be this home's) is rewritten when it
differs; any other is the operator's and left alone.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from core.settings import Settings
from orchestration.runtime import enabled

TELEMETRY_OFF = """\
telemetry:
  enabled: false
"""
ONE_WRITER = TELEMETRY_OFF + """\
nux:
  enabled: false
concurrency:
  pools:
    default_limit: 1
  runs:
    max_concurrent_runs: 1
"""
NO_COMPUTE_LOGS = """\
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
"""
EVENT_LOG_MODULE = "orchestration.runtime.eventlog"
# What earlier versions wrote before the parts above were complete, and where their event log
# class lived: upgraded in place.
EARLIER_DEFAULTS = (TELEMETRY_OFF, ONE_WRITER)
EARLIER_EVENT_LOG_MODULES = ("orchestration.eventlog",)


def dagster_yaml(home: Path, pooled_event_log: bool = True) -> str:
    """The instance configuration for a Dagster home at `home`."""
    text = ONE_WRITER + NO_COMPUTE_LOGS
    if pooled_event_log:
        text += f"""\
event_log_storage:
  module: {EVENT_LOG_MODULE}
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {json.dumps(str(home / "history" / "runs"))}
"""
    return text


def prepare_environment(settings: Settings) -> None:
    """Settings every process of a run shares: data dir for dbt, quiet telemetry, a Dagster home."""
    os.environ["VARDVAL_DATA_DIR"] = str(settings.data_dir)
    os.environ["VARDVAL_LANDING_DIR"] = str(settings.landing_dir)
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ["DAGSTER_DISABLE_TELEMETRY"] = "true"
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.data_dir / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    current = dagster_yaml(home, pooled_event_log=enabled("eventlog"))
    text = config.read_text() if config.exists() else None
    if text != current and (text is None or _written_by_vardval(text)):
        config.write_text(current)


def _written_by_vardval(text: str) -> bool:
    if text in (*EARLIER_DEFAULTS, dagster_yaml(Path("."), pooled_event_log=False)):
        return True
    import yaml

    try:
        storage = yaml.safe_load(text)["event_log_storage"]
        module, base_dir = storage["module"], storage["config"]["base_dir"]
    except (yaml.YAMLError, TypeError, KeyError):
        return False
    if module in EARLIER_EVENT_LOG_MODULES:
        text = text.replace(f"module: {module}\n", f"module: {EVENT_LOG_MODULE}\n", 1)
    return isinstance(base_dir, str) and text == dagster_yaml(Path(base_dir).parent.parent)
