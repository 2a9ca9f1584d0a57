"""`vardval`: the monthly runs without the UI, through the same Dagster definitions.

    vardval run --from 2025-01 [--to 2025-03] [--force]
    vardval status
    vardval demo [--from 2025-01] [--months 4] [--scale 1.0]
    vardval generate --from 2025-01 --to 2025-12 [--scale 1.0]
    vardval scenario --model FILE --from 2025-01 [--to 2025-12]
    vardval ui [--port 3000]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

from core.months import month_range, shift_month, check_month
from core.settings import Settings, get_settings

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
MONTHS_TAG = "vardval/months"
DEMO_FIRST_MONTH = "2025-01"
DEMO_MONTHS = 13
EXIT_WAREHOUSE_BUSY = 3   # 0 all published, 1 a month not published, 2 bad arguments or settings


# A new Dagster home's instance config. One writer at a time on the warehouse: every asset is in
# the pool "warehouse" (one step at a time across all runs, the CLI's included), and the daemon
# launches one run at a time. No telemetry, no newsletter pop-up in the UI.
_SESSION1_DAGSTER_YAML = """\
telemetry:
  enabled: false
nux:
  enabled: false
concurrency:
  pools:
    default_limit: 1
  runs:
    max_concurrent_runs: 1
"""
# No compute-log capture: Dagster mirrors each captured step's stdout/stderr through `tail -F`
# processes (two, plus two watchers, per capture), and when a `vardval run` was piped they were
# seen outliving it, holding the pipe. Our steps log through context.log; dbt's output goes to
# <data>/logs/run_<id>.log.
_SESSION4_DAGSTER_YAML = _SESSION1_DAGSTER_YAML + """\
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
"""


def dagster_yaml(home: Path) -> str:
    """The CLI's Dagster home configuration: the event log in Dagster's SQLite files, with its
    connections kept open (orchestration/eventlog.py), at the place Dagster's default uses."""
    return _SESSION4_DAGSTER_YAML + f"""\
event_log_storage:
  module: orchestration.eventlog
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {json.dumps(str(home / "history" / "runs"))}
"""


# What earlier versions wrote: upgraded in place, anything else is the operator's and left alone.
_LEGACY_DAGSTER_YAMLS = ("telemetry:\n  enabled: false\n", _SESSION1_DAGSTER_YAML, _SESSION4_DAGSTER_YAML)


def prepare_environment(settings: Settings) -> None:
    """Settings every process of a run shares: data dir for dbt, quiet telemetry, a Dagster home."""
    os.environ["VARDVAL_DATA_DIR"] = str(settings.data_dir)
    os.environ["VARDVAL_LANDING_DIR"] = str(settings.landing_dir)
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ["DAGSTER_DISABLE_TELEMETRY"] = "true"
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.data_dir / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    current = dagster_yaml(home)
    text = config.read_text() if config.exists() else None
    if text != current and (text is None or _written_by_vardval(text)):
        config.write_text(current)


def _written_by_vardval(text: str) -> bool:
    """An earlier version's file, or ours for another place (a copied or moved Dagster home,
    whose event log must then be this home's)."""
    if text in _LEGACY_DAGSTER_YAMLS:
        return True
    import yaml

    try:
        base_dir = yaml.safe_load(text)["event_log_storage"]["config"]["base_dir"]
    except (yaml.YAMLError, TypeError, KeyError):
        return False
    return isinstance(base_dir, str) and text == dagster_yaml(Path(base_dir).parent.parent)


def make_console():
    """Bound to the terminal now (a run redirects sys.stdout); wide when output is a file or pipe."""
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 180)


# --- running months -------------------------------------------------------------------

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
    from orchestration.dbt_worker import start_worker
    # dbt imports and parses on the core that loading Dagster's definitions leaves idle.
    dbt_worker = start_worker(settings.data_dir)
    try:
        success = _execute_job(months, force, console, quiet)
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
    from orchestration.defs.publication.publisher import read_catalog
    from orchestration.dependencies import dependants_of_run
    from core.warehouse import connect

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


def _execute_job(months: list[str], force: bool, console, quiet: bool) -> bool:
    import dagster as dg
    from dagster._core.utils import make_new_run_id

    from orchestration.concurrency import process_tags, release_run, release_stale_slots
    from core.warehouse import WarehouseBusy

    from orchestration.job_run import execute_monthly_job

    instance = dg.DagsterInstance.get()
    global _fast_exit_is_safe
    from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
    _fast_exit_is_safe = isinstance(instance.compute_log_manager, NoOpComputeLogManager)
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
            _follow_progress(instance, run_id, worker, console, quiet)
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


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# dbt prints a line per node; a person following the run wants its verdicts, not the node list.
_DBT_VERDICTS = ("dbt build for", "dbt views", "Finished running", "Done.", "Completed", "Failure in",
                 "Warning in", "Database Error", "Compilation Error", "Runtime Error")


def _worth_showing(step: str, text: str, level: int) -> bool:
    if not step.startswith("vardval_dbt_models") or level >= 30:
        return True
    return text.startswith(_DBT_VERDICTS) or " ERROR " in text or " FAIL " in text or " WARN " in text


def _follow_progress(instance, run_id: str, worker: threading.Thread, console, quiet: bool) -> None:
    """Print step starts, finishes, failures and the assets' own log lines as the run goes."""
    from dagster import DagsterEventType
    from rich.markup import escape

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
                from orchestration.concurrency import holders
                console.print(f"[dim]{stamp}[/dim] {step:<26} [yellow]waiting: the warehouse is in use by "
                              f"{', '.join(holders(instance)) or 'another run'}[/yellow]", soft_wrap=True)
            elif event.event_type in shown:
                label = {DagsterEventType.STEP_START: "started", DagsterEventType.STEP_SUCCESS: "[green]done[/green]",
                         DagsterEventType.STEP_FAILURE: "[red]failed[/red]"}[event.event_type]
                if event.event_type == DagsterEventType.STEP_FAILURE:
                    message = _root_cause(event.step_failure_data.error) if event.step_failure_data else ""
                    message = message.removeprefix("dagster._core.definitions.events.Failure: ")
                    label += " " + " ".join(message.split())[:300] if message else ""
                console.print(f"[dim]{stamp}[/dim] {step:<26} {label}", soft_wrap=True)
        if not connection.has_more and not alive:
            return
        if not connection.has_more:
            time.sleep(0.3)


def _root_cause(error) -> str:
    """The innermost error's message: 'WarehouseBusy: the warehouse ... is held', not Dagster's wrapper."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message if error is not None else ""


# --- commands ---------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    month_from = check_month(args.month_from)
    month_to = check_month(args.month_to or args.month_from)
    return run_months(month_from, month_to, force=args.force, quiet=args.quiet)


def cmd_status(args: argparse.Namespace) -> int:
    settings = get_settings()
    from orchestration.status import month_states, render_pending_adjustments, render_states
    if not settings.warehouse_path.exists():
        print(f"no warehouse at {settings.warehouse_path}: nothing has run yet")
        return 0
    console = make_console()
    render_states(console, month_states(settings, None), title="Months")
    render_pending_adjustments(console, settings.published_dir)
    return 0


def cmd_payouts(args: argparse.Namespace) -> int:
    from orchestration.defs.publication.publisher import complete_interrupted_commit
    from orchestration.status import render_payouts

    settings = get_settings()
    month = check_month(args.month) if args.month else None
    complete_interrupted_commit(settings.data_dir)
    render_payouts(make_console(), settings.published_dir, month)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from orchestration import demo_year
    from sources.synthetic import generate_region

    settings = get_settings()
    landing = Path(args.landing).resolve() if args.landing else settings.landing_dir
    months = month_range(check_month(args.month_from), check_month(args.month_to))
    started = time.monotonic()
    summary = generate_region(landing, months, scale=args.scale, seed=args.seed)
    print(f"generated {len(months)} months at scale {args.scale} in {landing} "
          f"({time.monotonic() - started:.1f} s): {summary}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from sources.pseudonym import ensure_demo_key
    from orchestration import demo_year
    from sources.synthetic import generate_region

    settings = get_settings()
    ensure_demo_key(settings.data_dir)
    first = check_month(args.month_from)
    months = month_range(first, shift_month(first, args.months - 1))
    marker = settings.landing_dir / ".demo_generated"
    wanted = f"{months[0]}..{months[-1]} scale={args.scale} seed={args.seed}"
    lived = f"{wanted} year lived"   # the story's deliveries are in the landing folder
    if not marker.exists() or marker.read_text() not in (wanted, lived):
        print(f"generating the synthetic region ({len(months)} months, scale {args.scale}) in {settings.landing_dir}")
        started = time.monotonic()
        generate_region(settings.landing_dir, months, scale=args.scale, seed=args.seed)
        marker.write_text(wanted)
        print(f"generated in {time.monotonic() - started:.1f} s")
    if len(months) < demo_year.MIN_MONTHS or marker.read_text() == lived:
        code = run_months(months[0], months[-1], quiet=args.quiet)
    else:
        code = demo_year.run_year(settings, months, args.seed, args.quiet, run_months)
        marker.write_text(lived)
    if len(months) >= demo_year.MIN_MONTHS:
        demo_year.print_where_to_look(settings, months)
    return code


def cmd_ui(args: argparse.Namespace) -> int:
    """`dagster dev` (UI and daemon) on the same Dagster home as `vardval run`, so its runs show up."""
    prepare_environment(get_settings())
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster) if dagster.exists() else "dagster", "dev", "-w", "workspace.yaml",
               "-h", args.host, "-p", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port} (Dagster home {os.environ['DAGSTER_HOME']}); Ctrl-C stops it")
    os.chdir(Path(__file__).resolve().parents[1])   # workspace.yaml sits in the repository root
    os.execvp(command[0], command)
    return 0  # not reached


def cmd_scenario(args: argparse.Namespace) -> int:
    from orchestration.scenario import run_scenario

    return run_scenario(Path(args.model), check_month(args.month_from),
                        check_month(args.month_to or args.month_from))


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vardval")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vardval", description="Vårdval primärvård: monthly follow-up and reimbursement.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}",
                        help="show the installed version and exit")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="materialise and publish months (one Dagster run)")
    run.add_argument("--from", dest="month_from", required=True, help="first month, YYYY-MM")
    run.add_argument("--to", dest="month_to", help="last month, YYYY-MM (default: --from)")
    run.add_argument("--force", action="store_true", help="re-ingest even unchanged deliveries")
    run.add_argument("--quiet", action="store_true", help="only steps and the summary")
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="each month's state: ingested, checked, published, stale")
    status.set_defaults(func=cmd_status)

    payouts = sub.add_parser("payouts", help="the payouts made (SPEC §6.1) and their payment files")
    payouts.add_argument("--month", help="only the payout of this month, YYYY-MM (default: every payout)")
    payouts.set_defaults(func=cmd_payouts)

    demo = sub.add_parser("demo", help="generate the synthetic region and run it end to end")
    demo.add_argument("--from", dest="month_from", default=DEMO_FIRST_MONTH,
                      help=f"first month of the region, YYYY-MM (default {DEMO_FIRST_MONTH})")
    demo.add_argument("--months", type=int, default=DEMO_MONTHS,
                      help=f"how many months to generate and run (default {DEMO_MONTHS}: a year and the new "
                           "year's first month; from 4 on, with a blocked month and a correction)")
    demo.add_argument("--scale", type=float, default=1.0,
                      help="size of the region: 1.0 is a region of ~290 000 listed (default 1.0)")
    demo.add_argument("--seed", type=int, default=20250101, help="random seed of the synthetic region")
    demo.add_argument("--quiet", action="store_true", help="only steps and the summary")
    demo.set_defaults(func=cmd_demo)

    generate = sub.add_parser("generate", help="write the synthetic region's landing files")
    generate.add_argument("--from", dest="month_from", required=True, help="first month, YYYY-MM")
    generate.add_argument("--to", dest="month_to", required=True, help="last month, YYYY-MM")
    generate.add_argument("--scale", type=float, default=1.0,
                          help="size of the region: 1.0 is a region of ~290 000 listed (default 1.0)")
    generate.add_argument("--seed", type=int, default=20250101, help="random seed of the synthetic region")
    generate.add_argument("--landing", help="landing folder (default VARDVAL_LANDING_DIR)")
    generate.set_defaults(func=cmd_generate)

    ui = sub.add_parser("ui", help="the Dagster UI and daemon (dagster dev) on the runs' Dagster home")
    ui.add_argument("--port", type=int, default=3000, help="port of the UI (default 3000)")
    ui.add_argument("--host", default="127.0.0.1", help="address the UI listens on (default 127.0.0.1)")
    ui.set_defaults(func=cmd_ui)

    scenario = sub.add_parser("scenario", help="compare another payment model with the current one")
    scenario.add_argument("--model", required=True,
                          help="the other reimbursement_model.yaml to compare with the region's own")
    scenario.add_argument("--from", dest="month_from", required=True, help="first month, YYYY-MM")
    scenario.add_argument("--to", dest="month_to", help="last month, YYYY-MM (default: --from)")
    scenario.set_defaults(func=cmd_scenario)
    return parser


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.filterwarnings("ignore", message=r".*is currently in beta.*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    args = build_parser().parse_args(argv)
    from core.warehouse import WarehouseBusy
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"vardval: {exc}", file=sys.stderr)
        return 2
    except WarehouseBusy as exc:
        print(f"vardval: {exc}", file=sys.stderr)
        return EXIT_WAREHOUSE_BUSY
    except KeyboardInterrupt:
        print("vardval: interrupted", file=sys.stderr)
        return 130


def console_main() -> None:
    """The `vardval` command."""
    code = main()
    if _fast_exit_is_safe:
        _exit_without_teardown(code)
    sys.exit(code)


# Set by a run whose Dagster instance captures no compute logs (see _exit_without_teardown).
_fast_exit_is_safe = False


def _exit_without_teardown(code: int) -> None:
    """Exit without the interpreter's teardown, which frees the run's heap object by object
    (~1.5 s of a region month). Everything registered to run at exit runs first: non-daemon
    threads are joined and atexit handlers called (logging, multiprocessing, DuckDB's). Only
    taken when the run's instance uses NoOpComputeLogManager: a local compute-log manager
    mirrors output through `tail -F` processes that this exit would leave holding the
    caller's pipes (docs/decisions.md)."""
    import atexit

    main_thread = threading.main_thread()
    for thread in threading.enumerate():
        if thread is not main_thread and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    console_main()
