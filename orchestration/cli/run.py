"""`vardval run`'s work: months checked, the monthly job executed in a thread of this process
while the main thread prints its progress, and a summary of each month's state."""
from __future__ import annotations

import sys
import threading
import time

from core.months import month_range, shift_month
from core.settings import Settings, get_settings
from orchestration.cli.dagster_home import prepare_environment
from orchestration.cli.progress import follow_progress, make_console

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
MONTHS_TAG = "vardval/months"


def run_months(month_from: str, month_to: str, force: bool = False, quiet: bool = False) -> int:
    """Materialise the months in one run; print progress and a summary; 0 only if all published."""
    settings = get_settings()
    prepare_environment(settings)
    console = make_console()
    months = month_range(month_from, month_to)
    first_partition = settings.first_month
    if months[0] < first_partition:
        console.print(f"[red]{months[0]} is before the first partition {first_partition} "
                      f"(set VARDVAL_FIRST_MONTH)[/red]")
        return 2
    from sources.pseudonym import MissingPseudonymKey, get_key
    try:
        get_key()
    except MissingPseudonymKey as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    if settings.warehouse_path.exists():
        from core.warehouse import connect
        with connect(settings.warehouse_path):  # held by another process: WarehouseBusy, before any run
            pass
        months = _with_dependants(settings, months, console)

    console.print(f"[bold]vardval run[/bold] {months[0]}..{months[-1]} "
                  f"(landing {settings.landing_dir}, data {settings.data_dir})")
    started = time.monotonic()
    from orchestration.runtime.dbt_worker import start_worker
    # dbt imports and parses on the core that loading Dagster's definitions leaves idle.
    dbt_worker = start_worker(settings.data_dir)
    try:
        success = execute_job(months, force, console, quiet)
    finally:
        if dbt_worker is not None:
            dbt_worker.stop()
    console.print(f"run finished in {time.monotonic() - started:.1f} s")

    from orchestration.status import month_states, print_quarantine_samples, render_states
    states = month_states(settings, months)
    render_states(console, states, title="Summary")
    print_quarantine_samples(console, settings, months)
    all_published = all(state.is_published_current for state in states)
    if all_published and success:
        console.print(f"published: {settings.published_dir / 'published.duckdb'}; statements: "
                      f"{settings.statements_dir}; report: {settings.reports_dir}")
        return 0
    return 1


def _with_dependants(settings: Settings, months: list[str], console) -> list[str]:
    """The run's months and, after them, the published months whose windows read a delivery this
    run ingests anew (SPEC §9): re-run in the same run, up to the first month not published."""
    from core.warehouse import connect
    from orchestration.defs.publication.layout import read_catalog
    from orchestration.dependencies import dependants_of_run

    published = sorted(read_catalog(settings.published_dir)["months"])
    with connect(settings.warehouse_path, read_only=True) as con:
        dependants = dependants_of_run(con, settings.data_dir, settings.landing_dir, months, published)
    if not dependants:
        return months
    extended = list(months)
    while extended[-1] < dependants[-1] and shift_month(extended[-1], 1) in published:
        extended.append(shift_month(extended[-1], 1))
    added = [m for m in extended if m not in months]
    left = [m for m in dependants if m not in extended]
    if added:
        console.print(f"[yellow]{', '.join(added)}: their windows read a corrected delivery of "
                      f"{months[0]}..{months[-1]}; re-run in this run[/yellow]", soft_wrap=True)
    if left:
        console.print(f"[yellow]{', '.join(left)} also read it but lie after a month that is not published: "
                      f"run `vardval run --from {left[0]} --to {left[-1]}` once it is[/yellow]", soft_wrap=True)
    return extended


def execute_job(months: list[str], force: bool, console, quiet: bool) -> bool:
    """monthly_job over the months, in a thread; this thread follows its events. True if it succeeded."""
    import dagster as dg
    from dagster._core.utils import make_new_run_id

    from core.warehouse import WarehouseBusy
    from orchestration.cli.concurrency import process_tags, release_run, release_stale_slots
    from orchestration.cli.job_run import execute_monthly_job
    from orchestration.runtime.exit import allow_fast_exit

    instance = dg.DagsterInstance.get()
    allow_fast_exit(instance)
    for note in release_stale_slots(instance):
        console.print(f"[yellow]{note}[/yellow]")
    run_id = make_new_run_id()
    # vardval/months: the range in the run lists (the UI hides Dagster's own range tags there)
    tags = {RANGE_START_TAG: months[0], RANGE_END_TAG: months[-1], MONTHS_TAG: _range_label(months),
            **process_tags()}
    if force:
        tags["vardval/force"] = "1"
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["success"] = execute_monthly_job(
                instance, run_id, tags, run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
        except WarehouseBusy as exc:
            outcome["error"] = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported, exit status says the rest
            outcome["error"] = f"{type(exc).__name__}: {exc}"

    # dbt's node-by-node output goes to a log file; the progress feed shows its verdicts.
    log_path = get_settings().data_dir / "logs" / f"run_{run_id[:8]}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.stdout
    with log_path.open("a", encoding="utf-8") as log_file:
        sys.stdout = log_file
        try:
            worker = threading.Thread(target=target, daemon=True)
            worker.start()
            follow_progress(instance, run_id, worker, console, quiet)
            worker.join()
        except KeyboardInterrupt:
            release_run(instance, run_id, "interrupted (Ctrl-C) in vardval run")  # or its slot blocks the next run
            raise
        finally:
            sys.stdout = terminal
    if "error" in outcome:
        console.print(f"[red]run failed: {outcome['error']}[/red]")
        return False
    console.print(f"Dagster run {run_id} ({'succeeded' if outcome.get('success') else 'failed'}); "
                  f"open it in the UI with `make ui`; dbt output in {log_path}", soft_wrap=True)
    return bool(outcome.get("success"))


def _range_label(months: list[str]) -> str:
    return months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"
