"""`vardval scenario --model FILE --from YYYY-MM [--to YYYY-MM]` (SPEC §6 last paragraph, §10).

The same reimbursement computation (the dbt models) under another model file, on a private
copy of the warehouse, compared per VC and month with today's figures. Writes only under
`<data_dir>/scenarios/`; never publishes, never writes the warehouse. See sources/scenarios/README.md.

Exit status: 0 done; 2 the scenario cannot run as asked (invalid model, months not built, no
version for a month, warehouse busy); 1 the computation or the writing of its outputs failed.
"""
from __future__ import annotations

import sys
from pathlib import Path

from core.settings import get_settings
from orchestration.scenario.compute import (
    COMPONENTS,
    ScenarioBuildFailed,
    ScenarioError,
    ScenarioResult,
    compare_monthly,
    compute_scenario,
    summarise,
)
from sources.reimbursement_model import ModelValidationError

__all__ = ["COMPONENTS", "ScenarioResult", "compare_monthly", "compute_scenario", "run_scenario", "summarise"]


def run_scenario(model_path: Path, month_from: str, month_to: str) -> int:
    from rich.console import Console
    from rich.markup import escape

    from orchestration.scenario.outputs import ScenarioStoreBusy, print_summary, write_tables, write_workbook

    console = Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 160)
    settings = get_settings()
    model_path = Path(model_path)
    out_dir = settings.data_dir / "scenarios"
    try:
        result = compute_scenario(model_path, month_from, month_to, settings, log_dir=out_dir / "logs",
                                  say=lambda text: console.print(escape(text), soft_wrap=True))
    except ModelValidationError as exc:
        console.print(f"[red]invalid reimbursement model, nothing computed:[/red]\n{escape(str(exc))}", soft_wrap=True)
        return 2
    except ScenarioError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        return 2
    except ScenarioBuildFailed as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        return 1

    monthly = compare_monthly(result)
    summary = summarise(monthly)
    excel = out_dir / f"{result.name}_{result.months[0]}_{result.months[-1]}.xlsx"
    store = out_dir / "scenarios.duckdb"
    status = 0
    try:
        write_workbook(excel, result, monthly, summary)
    except OSError as exc:   # e.g. the workbook is open in Excel on a shared drive
        console.print(f"[red]could not write {escape(str(excel))}: {escape(str(exc))}[/red]", soft_wrap=True)
        status = 1
    try:
        write_tables(store, result, monthly, summary, excel)
    except ScenarioStoreBusy as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        status = 1
    print_summary(console, result, summary, excel, store)
    return status
