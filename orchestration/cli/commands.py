"""`vardval`'s commands and their arguments: the monthly runs without the UI, through the same
Dagster definitions.

    vardval run --from 2025-01 [--to 2025-03] [--force]
    vardval status
    vardval demo [--from 2025-01] [--months 4] [--scale 1.0]
    vardval generate --from 2025-01 --to 2025-12 [--scale 1.0]
    vardval scenario --model FILE --from 2025-01 [--to 2025-12]
    vardval ui [--port 3000]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from core.months import check_month, month_range, shift_month
from core.settings import get_settings
from orchestration.cli.dagster_home import prepare_environment
from orchestration.cli.progress import make_console
from orchestration.cli.run import run_months

DEMO_FIRST_MONTH = "2025-01"
DEMO_MONTHS = 13
EXIT_WAREHOUSE_BUSY = 3   # 0 all published, 1 a month not published, 2 bad arguments or settings


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
    from orchestration.defs.publication.commit import complete_interrupted_commit
    from orchestration.status import render_payouts

    settings = get_settings()
    month = check_month(args.month) if args.month else None
    complete_interrupted_commit(settings.data_dir)
    render_payouts(make_console(), settings.published_dir, month)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
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
    from orchestration import demo_year
    from sources.pseudonym import ensure_demo_key
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
    os.chdir(Path(__file__).resolve().parents[2])   # workspace.yaml sits in the repository root
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
    from orchestration.runtime.exit import exit_process

    exit_process(main())


if __name__ == "__main__":
    console_main()
