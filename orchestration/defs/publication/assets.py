"""Publication assets: the gate, the published tables, statements and the report, in one step.

The gate runs every blocking check per month and records the outcome against the month's
content fingerprint; publishing refuses any month without a passing record for exactly
that content, so even a run that selects only `published_tables` is gated. Each asset is
materialised per month, for the months it was written for (see `publication`).
"""

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg

from core.published_tables import PUBLISHED_TABLES
from core.settings import get_settings
from orchestration.defs.partitions import OWNERS, PARTITIONS, SINGLE_RUN, check_outputs, partition_months
from orchestration.defs.publication.checks import gate_check_specs, month_evaluations, undeclared

GATE_KEY = dg.AssetKey(["publication", "month_gate"])
PROJECT_DIR = Path(__file__).resolve().parents[3]


def code_version() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=str(PROJECT_DIR)).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        from importlib.metadata import version
        return f"vardval-{version('vardval')}"


def _input_checksums(month: str) -> dict:
    import duckdb
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as con:
        rows = con.execute("select source_file, sha256 from raw.source_files where month = ? "
                           "union all select file_name, sha256 from raw.reference_files order by 1",
                           [month]).fetchall()
    return dict(rows)


PUBLISHED_KEY = dg.AssetKey(["publication", "published_tables"])
STATEMENTS_KEY = dg.AssetKey(["publication", "statements"])
REPORT_KEY = dg.AssetKey(["publication", "monthly_report"])


def _spec(key: dg.AssetKey, deps: list, kinds: set[str], description: str) -> dg.AssetSpec:
    # skippable: a month is materialised on its own (below), never by the step's output
    return dg.AssetSpec(key, deps=deps, kinds=kinds, description=description, group_name="publication",
                        owners=OWNERS, skippable=True)


@dg.multi_asset(
    name="publication",
    specs=[
        _spec(GATE_KEY, [dg.AssetKey(["marts", name]) for name in PUBLISHED_TABLES],
              {"great_expectations", "duckdb"},
              "Every blocking check of a month: source contracts, Great Expectations suites on the marts "
              "and the reconciliations of SPEC §7, recorded against the month's content. Each check is "
              "an asset check of its own, per month."),
        _spec(PUBLISHED_KEY, [GATE_KEY], {"duckdb", "parquet"},
              "The published tables of SPEC §7 for BI readers: published/published.duckdb and Parquet per "
              "table and month, as numbered versions with a manifest and a diff. A month that failed a "
              "blocking check of the gate is not published: its previous version is kept."),
        _spec(STATEMENTS_KEY, [PUBLISHED_KEY], {"excel"},
              "Ersättningsunderlag: one formatted Excel workbook per VC and month, and a region summary "
              "(published months only)."),
        _spec(REPORT_KEY, [PUBLISHED_KEY], {"html", "matplotlib"},
              "The monthly report with charts: listed per VC, indicators against targets over 13 months, "
              "reimbursement per VC by component (published months only); and the quarterly and yearly "
              "reports of the month's quarter and year (to date while not complete), from the period tables."),
    ],
    check_specs=gate_check_specs(GATE_KEY),
    partitions_def=PARTITIONS,
    backfill_policy=SINGLE_RUN,
    pool="warehouse",
    can_subset=True,
)
def publication(context: dg.AssetExecutionContext):
    """Gate, publish, statements and report in one step, month by month.

    One step, because Dagster blocks per step and a range run is one step per asset: a failed
    blocking check must stop its own month, not the range. So each month gets its own check
    evaluations and its own materialisations (partition by partition); a blocked month gets
    none downstream of the gate. The failed blocking checks are yielded last, once the good
    months are published, and the step then fails, naming each blocked month and its checks.
    """
    selected = context.selected_asset_keys
    months = partition_months(context)
    failing: list[dg.AssetCheckEvaluation] = []
    if GATE_KEY in selected:
        for event in _gate(context, months):
            if isinstance(event, dg.AssetCheckEvaluation) and not event.passed and \
                    event.severity == dg.AssetCheckSeverity.ERROR:
                failing.append(event)   # after the publication of the months that passed
            else:
                yield event
    refused: dict[str, str] = {}
    if PUBLISHED_KEY in selected:
        yield from _published_tables(context, months, refused)
    published = published_months(context) if selected & {STATEMENTS_KEY, REPORT_KEY} else []
    if STATEMENTS_KEY in selected:
        yield from _statements(context, published)
    if REPORT_KEY in selected:
        yield from _report(published)
    yield from failing
    yield from check_outputs(context)
    # The step fails on a blocked month (Dagster would too, after a failed blocking check), with
    # a message that names the month and its failed checks; and on a month refused for another
    # reason (content changed since its checks ran).
    blocked: dict[str, dict[str, str]] = {}
    for evaluation in failing:
        blocked.setdefault(evaluation.partition, {})[evaluation.check_name] = evaluation.description
    for month, why in refused.items():
        blocked.setdefault(month, {"publication": why})
    if blocked:
        others = [m for m in months if m not in blocked] if PUBLISHED_KEY in selected else []
        raise dg.Failure(
            description="; ".join(f"{month} not published: blocked by {', '.join(checks)}"
                                  for month, checks in sorted(blocked.items()))
                        + ". A blocked month keeps its previously published version"
                        + (f"; published: {', '.join(others)}." if others else "."),
            metadata={"blocked": dg.MetadataValue.json(blocked)})


def _gate(context: dg.AssetExecutionContext, months: list[str]):
    from orchestration.defs.publication.gate import month_fingerprints, record_checks
    from validations.deliveries import delivery_outcomes
    from validations.expectations import run_range_checks

    settings = get_settings()

    def fingerprints_and_deliveries():
        return (month_fingerprints(settings.warehouse_path, months),   # one scan per table
                {m: delivery_outcomes(settings.warehouse_path, m, settings.max_quarantine_share) for m in months})

    # DuckDB releases the GIL while it scans: the fingerprint runs beside the GE validation.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gate-sql") as pool:
        side = pool.submit(fingerprints_and_deliveries)
        checked = run_range_checks(settings.warehouse_path, months)
        fingerprints, deliveries = side.result()
    for month in months:
        outcomes = deliveries[month] + checked[month]
        record = record_checks(settings.data_dir, month, fingerprints[month], outcomes)
        failed = [o for o in outcomes if o.blocking and not o.passed]
        warnings = [o for o in outcomes if not o.blocking and not o.passed]
        for o in failed:
            context.log.error(f"{month} BLOCKED by {o.name}: {o.description}")
        for o in warnings:
            context.log.warning(f"{month} warning {o.name}: {o.description}")
        evaluations = month_evaluations(GATE_KEY, month, outcomes)
        if undeclared(outcomes):   # still in the record (and blocking there); not shown as a check
            context.log.warning(f"{month}: results without an asset check of their own: {undeclared(outcomes)}")
        # A month that passed is materialised; a blocked one is not (its partition shows the
        # run's failure, red), and its failed checks say why.
        if not failed:
            yield dg.AssetMaterialization(GATE_KEY, partition=month, metadata={
                "rules": dg.MetadataValue.int(len(outcomes)),
                "warnings": dg.MetadataValue.text(", ".join(o.name for o in warnings) or "none"),
                "fingerprint": dg.MetadataValue.text(fingerprints[month][:16]),
                "check_record": dg.MetadataValue.path(str(record)),
            })
        yield from evaluations


def _published_tables(context: dg.AssetExecutionContext, months: list[str], refused: dict[str, str]):
    from orchestration.defs.publication.publisher import publication as one_commit

    settings = get_settings()
    version = code_version()
    published = []
    # One commit for the run's months: readers of published.duckdb, of the Parquet and of
    # catalog.json see all of them or none, and published.duckdb is built once.
    with one_commit(settings.data_dir) as batch:
        # Months that pass are published even when another month of the range is blocked.
        for month in months:
            metadata, refusal = _publish(context, batch, month, version)
            if refusal:
                refused[month] = refusal
            else:
                published.append((month, metadata))
    context.log.info(f"committed: {len(published)} of {len(months)} month(s) published")
    payouts = _payout_metadata(settings.published_dir)
    for month, metadata in published:
        yield dg.AssetMaterialization(PUBLISHED_KEY, partition=month, metadata={
            **metadata, **payouts.get(month, {}),
            "published_db": dg.MetadataValue.path(str(settings.published_dir / "published.duckdb"))})


def _payout_metadata(published) -> dict[str, dict]:
    """Per payout month, its amounts (SPEC §6.1) as the published month's metadata."""
    from orchestration.defs.publication.payouts import PAYOUTS_DIR, load_ledger, payment_file_name

    ledger = load_ledger(published)
    pending = ledger.pending()
    out = {}
    for month, rows in ledger.payouts.groupby("payout_month"):
        out[month] = {
            "payout_vcs": dg.MetadataValue.int(len(rows)),
            "payout_amount_to_pay_sek": dg.MetadataValue.float(round(float(rows["amount_to_pay"].sum()), 2)),
            "payout_adjustments_sek": dg.MetadataValue.float(float(rows["adjustments_total"].sum())),
            "payment_file": dg.MetadataValue.path(str(published / PAYOUTS_DIR / month / payment_file_name(month))),
            "adjustments_pending": dg.MetadataValue.int(len(pending)),
        }
    return out


def _statements(context: dg.AssetExecutionContext, months: list[str]):
    from orchestration.defs.publication.statements import write_statements

    settings = get_settings()
    for month in months:
        written = write_statements(settings.warehouse_path, month, settings.statements_dir)
        context.log.info(f"{month}: {len(written)} workbooks in {settings.statements_dir}")
        yield dg.AssetMaterialization(STATEMENTS_KEY, partition=month, metadata={
            "workbooks": dg.MetadataValue.int(len(written)),
            "folder": dg.MetadataValue.path(str(settings.statements_dir))})


def _report(months: list[str]):
    from orchestration.defs.publication.period_report import write_period_reports
    from orchestration.defs.publication.periods import period_of
    from orchestration.defs.publication.report import write_reports

    settings = get_settings()
    monthly = write_reports(settings.warehouse_path, months, settings.reports_dir)
    periods = {r.period: r for r in write_period_reports(settings.warehouse_path, settings.published_dir, months,
                                                         settings.reports_dir)} if months else {}
    for month, result in zip(months, monthly):
        metadata = {"report": dg.MetadataValue.path(str(result.html_path)),
                    "summary": dg.MetadataValue.md(result.markdown_summary)}
        for name, grain in (("quarter_report", "quarter"), ("year_report", "year")):
            if period_of(month, grain) in periods:
                metadata[name] = dg.MetadataValue.path(str(periods[period_of(month, grain)].html_path))
        yield dg.AssetMaterialization(REPORT_KEY, partition=month, metadata=metadata)


def _publish(context: dg.AssetExecutionContext, batch, month: str, version: str):
    """Stage one month in the run's publication; (its materialisation's metadata, why it was refused or None)."""
    from orchestration.defs.publication.gate import PublicationRefused

    settings = get_settings()
    try:
        # publish() hashes the month and publishes it only with a passing check record
        # for exactly that content (the record's outcomes go into the manifest).
        result = batch.publish(settings.warehouse_path, month, input_checksums=_input_checksums(month),
                               check_outcomes=[], code_version=version)
    except PublicationRefused as exc:
        context.log.error(f"{month} not published: {exc}")
        return {}, str(exc)
    change = "unchanged" if not result.is_new_version else ("first version" if result.version == 1
                                                             else f"diff against v{result.version - 1}")
    context.log.info(f"{month} published as v{result.version} ({change}) with the run's commit")
    return {"version": dg.MetadataValue.int(result.version),
            "new_version": dg.MetadataValue.bool(result.is_new_version),
            "change": dg.MetadataValue.text(change)}, None


def published_months(context: dg.AssetExecutionContext) -> list[str]:
    """The run's months whose published version holds the content the gate just passed."""
    from orchestration.defs.publication.gate import load_check_record
    from orchestration.defs.publication.layout import read_catalog

    settings = get_settings()
    catalog = read_catalog(settings.published_dir).get("months", {})
    months = []
    for month in partition_months(context):
        record = load_check_record(settings.data_dir, month)
        entry = catalog.get(month)
        if record.get("passed") and entry and entry.get("content_hash") == record.get("fingerprint"):
            months.append(month)
        else:
            context.log.warning(f"{month} is not published: no statements or report for it")
    return months
