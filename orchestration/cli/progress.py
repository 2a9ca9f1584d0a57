"""What `vardval run` prints while the run goes: step starts, finishes, failures and the assets'
own log lines, read from the run's Dagster event log."""
from __future__ import annotations

import re
import sys
import threading
import time

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# dbt prints a line per node; a person following the run wants its verdicts, not the node list.
_DBT_VERDICTS = ("dbt build for", "dbt views", "Finished running", "Done.", "Completed", "Failure in",
                 "Warning in", "Database Error", "Compilation Error", "Runtime Error")


def make_console():
    """Bound to the terminal now (a run redirects sys.stdout); wide when output is a file or pipe."""
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 180)


def _worth_showing(step: str, text: str, level: int) -> bool:
    if not step.startswith("vardval_dbt_models") or level >= 30:
        return True
    return text.startswith(_DBT_VERDICTS) or " ERROR " in text or " FAIL " in text or " WARN " in text


def follow_progress(instance, run_id: str, worker: threading.Thread, console, quiet: bool) -> None:
    """Print the run's events until `worker` (the thread executing the run) has ended and all are shown."""
    from dagster import DagsterEventType
    from rich.markup import escape

    from orchestration.cli.concurrency import holders

    cursor = None
    shown = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
    while True:
        alive = worker.is_alive()
        try:
            connection = instance.get_records_for_run(run_id, cursor=cursor, limit=500)
        except Exception:  # noqa: BLE001 - the run may not be registered yet
            time.sleep(0.3)
            continue
        cursor = connection.cursor
        for record in connection.records:
            entry = record.event_log_entry
            stamp = time.strftime("%H:%M:%S", time.localtime(entry.timestamp))
            step = entry.step_key or "run"
            event = entry.dagster_event
            if event is None:
                text = _ANSI.sub("", entry.user_message or "").strip()
                if entry.level >= 20 and not quiet and text and _worth_showing(step, text, entry.level):
                    style = "red" if entry.level >= 40 else ("yellow" if entry.level >= 30 else "")
                    text = escape(text.splitlines()[0][:240])
                    console.print(f"[dim]{stamp}[/dim] {step:<26} " + (f"[{style}]{text}[/{style}]" if style else text),
                                  soft_wrap=True)
            elif event.event_type == DagsterEventType.ENGINE_EVENT and "blocked by limit for pool" in (event.message or ""):
                console.print(f"[dim]{stamp}[/dim] {step:<26} [yellow]waiting: the warehouse is in use by "
                              f"{', '.join(holders(instance)) or 'another run'}[/yellow]", soft_wrap=True)
            elif event.event_type in shown:
                label = {DagsterEventType.STEP_START: "started", DagsterEventType.STEP_SUCCESS: "[green]done[/green]",
                         DagsterEventType.STEP_FAILURE: "[red]failed[/red]"}[event.event_type]
                if event.event_type == DagsterEventType.STEP_FAILURE:
                    message = root_cause(event.step_failure_data.error) if event.step_failure_data else ""
                    message = message.removeprefix("dagster._core.definitions.events.Failure: ")
                    label += " " + " ".join(message.split())[:300] if message else ""
                console.print(f"[dim]{stamp}[/dim] {step:<26} {label}", soft_wrap=True)
        if not connection.has_more and not alive:
            return
        if not connection.has_more:
            time.sleep(0.3)


def root_cause(error) -> str:
    """The innermost error's message: 'WarehouseBusy: the warehouse ... is held', not Dagster's wrapper."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message if error is not None else ""
