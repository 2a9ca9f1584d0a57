"""Each month's state, as `vardval status` and the run summary show it.

A month is *published current* when the catalog's latest version holds exactly the content the
warehouse has now; *stale* when it was published but the warehouse has moved on (a correction
that is not yet, or could not be, published). While the landing's reference files cannot be
loaded, every month is blocked (keeping what it published) with that failure as its reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.settings import Settings
from core.warehouse import connect


@dataclass
class MonthState:
    month: str
    deliveries: dict[str, str] = field(default_factory=dict)   # source -> file name
    file_errors: list[str] = field(default_factory=list)
    rows_quarantined: int = 0
    checked: str = "not checked"                              # 'passed' | 'blocked' | 'not checked'
    blocked_reasons: list[str] = field(default_factory=list)
    published_version: int | None = None
    is_published_current: bool = False
    reference_error: str | None = None                        # the last reference load failed
    stale_reasons: list[str] = field(default_factory=list)    # orchestration/dependencies.py

    @property
    def state(self) -> str:
        if self.is_published_current:
            return f"published v{self.published_version}"
        if self.checked == "blocked" or self.reference_error:
            return "blocked" + (f" (v{self.published_version} kept)" if self.published_version else "")
        if self.published_version:
            return f"stale (v{self.published_version} published)"
        if self.file_errors:
            return "blocked"
        return "ingested" if self.deliveries else "not ingested"


def month_states(settings: Settings, months: list[str] | None) -> list[MonthState]:
    from orchestration.defs.publication.commit import complete_interrupted_commit
    from orchestration.defs.publication.gate import load_check_record, month_fingerprints
    from orchestration.defs.publication.layout import read_catalog
    from orchestration.defs.sources.ingestion import REFERENCE_STEP, reference_error
    from orchestration.dependencies import read_record, reference_digests, stale_reasons

    # A publication killed after its commit point is finished first: the state shown is the
    # committed one, the one catalog.json, published.duckdb and the Parquet then all hold.
    complete_interrupted_commit(settings.data_dir)
    catalog = read_catalog(settings.published_dir).get("months", {})
    states: dict[str, MonthState] = {}
    delivered: dict[tuple[str, str], str] = {}
    failed_reference = None
    if settings.warehouse_path.exists():
        with connect(settings.warehouse_path, read_only=True) as con:
            failed_reference = reference_error(con)
            for month, source, name, quarantined, sha in con.execute(
                    "select month, source, source_file, rows_quarantined, sha256 from raw.source_files").fetchall():
                state = states.setdefault(month, MonthState(month))
                state.deliveries[source] = name
                state.rows_quarantined += int(quarantined)
                delivered[(month, source)] = sha
            for month, message in con.execute("select month, message from raw.ingest_errors").fetchall():
                states.setdefault(month, MonthState(month)).file_errors.append(message)
    for month in catalog:
        states.setdefault(month, MonthState(month))
    for month in months or []:
        states.setdefault(month, MonthState(month))

    selected = sorted(states) if months is None else months
    fingerprints = month_fingerprints(settings.warehouse_path, selected) if settings.warehouse_path.exists() else {}
    # What each published month was built from, against the deliveries and reference files now.
    records = {m: read_record(settings.data_dir, m) if m in catalog else None for m in selected}
    recorded = [m for m, r in records.items() if r]
    references = reference_digests(settings.landing_dir / "reference", recorded,
                                   [records[m] for m in recorded]) if recorded else {}
    result = []
    for month in selected:
        state = states[month]
        entry = catalog.get(month)
        if entry:
            state.published_version = int(entry["latest_version"])
        if settings.warehouse_path.exists():
            current = fingerprints[month]
            record = load_check_record(settings.data_dir, month, current)
            if record:
                state.checked = "passed" if record.get("passed") else "blocked"
                state.blocked_reasons = [f"{o['name']}: {o['description']}" for o in record.get("outcomes", [])
                                         if o.get("blocking") and not o.get("passed")]
            # Current only if the gate passed the month as it stands now: a broken delivery keeps
            # the old rows (and so the old content) but must not count as published.
            state.is_published_current = (bool(entry) and entry.get("content_hash") == current
                                          and state.checked == "passed" and not state.file_errors)
            if state.is_published_current:
                state.stale_reasons = stale_reasons(records[month], delivered, references.get(month))
                state.is_published_current = not state.stale_reasons
        if state.file_errors and not state.blocked_reasons:
            state.blocked_reasons = list(state.file_errors)
        if failed_reference:
            # The landing's reference files could not be loaded: no month can be checked against
            # them, and the checks on record (of the reference as last loaded) are not the reason.
            state.reference_error = failed_reference
            state.checked, state.is_published_current = "not checked", False
            state.blocked_reasons = [f"{REFERENCE_STEP} failed: {failed_reference}"]
        result.append(state)
    return result


def render_states(console, states: list[MonthState], title: str) -> None:
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column in ("month", "deliveries", "quarantined", "checks", "state", "why"):
        table.add_column(column, overflow="fold")
    for s in states:
        style = "green" if s.is_published_current else (
            "red" if s.checked == "blocked" or s.file_errors or s.reference_error else "yellow")
        table.add_row(s.month, ", ".join(sorted(s.deliveries.values())) or "—", f"{s.rows_quarantined:,}",
                      s.checked, f"[{style}]{s.state}[/{style}]",
                      "\n".join(r[:300] for r in (s.blocked_reasons or s.stale_reasons)[:4]))
    console.print(table)
    stale = [s.month for s in states if s.stale_reasons]
    if stale:
        console.print(f"[yellow]stale: {', '.join(stale)} — the deliveries or reference data they were built "
                      f"from changed; to bring them up to date: vardval run --from {stale[0]} --to {stale[-1]}"
                      "[/yellow]", soft_wrap=True)


def published_paths(settings: Settings) -> dict[str, Path]:
    return {"published": settings.published_dir / "published.duckdb", "statements": settings.statements_dir,
            "reports": settings.reports_dir}


QUARANTINE_SHOWN = 10  # quarantined lines a run prints per month (all are in raw.quarantine)


def print_quarantine_samples(console, settings: Settings, months: list[str],
                             limit: int = QUARANTINE_SHOWN) -> None:
    """Each month's first quarantined lines (file, line, column, reason, masked value) and how
    many there are, so a month that publishes with quarantined rows shows them, not a count."""
    from rich.markup import escape

    if not settings.warehouse_path.exists():
        return
    marks = ", ".join("?" for _ in months)
    with connect(settings.warehouse_path, read_only=True) as con:
        counts = con.execute(
            "select month, count(distinct (source_file, source_line)), count(*) from raw.quarantine "
            f"where month in ({marks}) group by month order by month", months).fetchall()
        rows = con.execute(
            "select month, source_file, source_line, column_name, reason, masked_value "
            f"from raw.quarantine where month in ({marks}) qualify row_number() over (partition by "
            "month order by source_file, source_line nulls first, column_name, reason) <= ? "
            "order by month, source_file, source_line nulls first, column_name, reason",
            [*months, limit]).fetchall()
    for month, lines, findings in counts:
        sample = [row[1:] for row in rows if row[0] == month]
        console.print(f"{month}: {lines:,} quarantined line{'s' if lines != 1 else ''}"
                      + (f" ({findings:,} findings)" if findings != lines else "")
                      + (f", the first {len(sample)} findings:" if findings > len(sample) else ":"))
        for source_file, line, column, reason, masked in sample:
            where = f"{source_file} line {line}" if line is not None else source_file
            value = f" (value {masked!r})" if masked and masked not in reason else ""
            console.print(escape(f"  {where}, column {column or '—'}: {reason}{value}"),
                          soft_wrap=True)



def render_pending_adjustments(console, published: Path) -> None:
    """Adjustments of corrected paid months not yet settled in a payout (SPEC §6.1), per month."""
    from orchestration.defs.publication.payouts import load_ledger

    pending = load_ledger(published).pending()
    if pending.empty:
        return
    lines = [f"  {month}: {len(rows)} adjustment{'s' if len(rows) != 1 else ''}, "
             + f"{rows['amount'].sum():+,.2f} SEK".replace(",", " ")
             for month, rows in pending.groupby("month")]
    console.print("[yellow]pending adjustments (settled in the next payout):[/yellow]\n" + "\n".join(lines),
                  soft_wrap=True)


def render_payouts(console, published: Path, month: str | None) -> int:
    """The payouts made (or one month's), with their payment files; the number listed."""
    from rich.table import Table

    from orchestration.defs.publication.payouts import PAYOUTS_DIR, load_ledger, payment_file_name

    payouts = load_ledger(published).payouts
    if month is not None:
        payouts = payouts[payouts["payout_month"] == month]
    if payouts.empty:
        console.print("no payouts" + (f" for {month}" if month else "") + " yet")
        return 0
    table = Table(title="Payouts")
    for column in ("payout month", "VCs", "month totals", "adjustments", "amount to pay", "paid at", "payment file"):
        table.add_column(column, overflow="fold")
    for payout_month, rows in payouts.groupby("payout_month"):
        file = published / PAYOUTS_DIR / payout_month / payment_file_name(payout_month)
        table.add_row(payout_month, str(len(rows)), f"{rows['month_total'].sum():,.2f}".replace(",", " "),
                      f"{rows['adjustments_total'].sum():+,.2f}".replace(",", " "),
                      f"{rows['amount_to_pay'].sum():,.2f}".replace(",", " "), str(rows["paid_at"].iloc[0]),
                      str(file) if file.exists() else f"{file} (missing)")
    console.print(table)
    return payouts["payout_month"].nunique()
