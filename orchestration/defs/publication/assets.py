"""Publication assets: the gate, the published tables, statements and the report.

The gate runs every blocking check per month and records the outcome against the month's
content fingerprint; publishing refuses any month without a passing record for exactly
that content, so even a run that selects only `published_tables` is gated.
"""

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg

from orchestration.defs.partitions import OWNERS, PARTITIONS, SINGLE_RUN, run_months
from orchestration.defs.publication.tables import PUBLISHED_TABLES
from orchestration.settings import get_settings

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


@dg.asset(
    key=GATE_KEY,
    group_name="publication",
    partitions_def=PARTITIONS,
    backfill_policy=SINGLE_RUN,
    pool="warehouse",
    owners=OWNERS,
    kinds={"great_expectations", "duckdb"},
    deps=[dg.AssetKey(["marts", name]) for name in PUBLISHED_TABLES],
    description="Every blocking check of a month: source contracts, Great Expectations suites on the "
                "marts and the reconciliations of SPEC §7, recorded against the month's content.",
    check_specs=[dg.AssetCheckSpec("blocking_checks_passed", asset=GATE_KEY,
                                   description="Every month of the run passed all blocking checks.")],
)
def month_gate(context: dg.AssetExecutionContext):
    from orchestration.defs.publication.gate import month_fingerprints, record_checks
    from validations.deliveries import delivery_outcomes
    from validations.expectations import run_range_checks

    settings = get_settings()
    lines = ["| month | result | failed checks |", "|---|---|---|"]
    blocked = {}
    months = run_months(context)

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
        record_checks(settings.data_dir, month, fingerprints[month], outcomes)
        failed = [o for o in outcomes if o.blocking and not o.passed]
        warnings = [o for o in outcomes if not o.blocking and not o.passed]
        for o in failed:
            context.log.error(f"{month} BLOCKED by {o.name}: {o.description}")
        for o in warnings:
            context.log.warning(f"{month} warning {o.name}: {o.description}")
        if failed:
            blocked[month] = "; ".join(f"{o.name}: {o.description}" for o in failed)
        lines.append(f"| {month} | {'blocked' if failed else 'passed'} | "
                     f"{', '.join(o.name for o in failed) or '—'} |")
    yield dg.MaterializeResult(metadata={"months": dg.MetadataValue.md("\n".join(lines)),
                                         "blocked_months": len(blocked)})
    yield dg.AssetCheckResult(
        check_name="blocking_checks_passed", asset_key=GATE_KEY, passed=not blocked,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(f"{m}: {why}" for m, why in blocked.items())[:4000] or None,
        metadata={"blocked": dg.MetadataValue.json(blocked)},
    )


PUBLISHED_KEY = dg.AssetKey(["publication", "published_tables"])


@dg.asset(
    key=PUBLISHED_KEY,
    group_name="publication",
    partitions_def=PARTITIONS,
    backfill_policy=SINGLE_RUN,
    pool="warehouse",
    owners=OWNERS,
    kinds={"duckdb", "parquet"},
    deps=[GATE_KEY],
    description="The published tables of SPEC §7 for BI readers: published/published.duckdb and Parquet "
                "per table and month, as numbered versions with a manifest and a diff.",
    check_specs=[dg.AssetCheckSpec("all_months_published", asset=PUBLISHED_KEY,
                                   description="Every month of the run was published; a blocked month keeps "
                                               "its previous version.")],
)
def published_tables(context: dg.AssetExecutionContext):
    from orchestration.defs.publication.publisher import publication

    settings = get_settings()
    version = code_version()
    lines = ["| month | version | new | change |", "|---|---:|---|---|"]
    refused = {}
    months = run_months(context)
    # One commit for the run's months: readers of published.duckdb, of the Parquet and of
    # catalog.json see all of them or none, and published.duckdb is built once.
    with publication(settings.data_dir) as batch:
        # Months that pass are published even when another month of the range is blocked.
        for month in months:
            row, refusal = _publish(context, batch, month, version)
            lines.append(row)
            if refusal:
                refused[month] = refusal
    context.log.info(f"committed: {len(months) - len(refused)} of {len(months)} month(s) published")
    yield dg.MaterializeResult(metadata={
        "published": dg.MetadataValue.md("\n".join(lines)),
        "published_db": dg.MetadataValue.path(str(settings.published_dir / "published.duckdb")),
        "blocked_months": len(refused),
    })
    yield dg.AssetCheckResult(
        check_name="all_months_published", asset_key=PUBLISHED_KEY, passed=not refused,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(f"{m}: {why}" for m, why in refused.items())[:4000] or None,
        metadata={"blocked": dg.MetadataValue.json(refused)},
    )


def _publish(context: dg.AssetExecutionContext, batch, month: str, version: str):
    """Stage one month in the run's publication; (its row of the summary table, why it was refused or None)."""
    from orchestration.defs.publication.gate import PublicationRefused

    settings = get_settings()
    try:
        # publish() hashes the month and publishes it only with a passing check record
        # for exactly that content (the record's outcomes go into the manifest).
        result = batch.publish(settings.warehouse_path, month, input_checksums=_input_checksums(month),
                               check_outcomes=[], code_version=version)
    except PublicationRefused as exc:
        context.log.error(f"{month} not published: {exc}")
        return f"| {month} | — | no | blocked |", str(exc)
    change = "unchanged" if not result.is_new_version else ("first version" if result.version == 1
                                                             else f"diff against v{result.version - 1}")
    context.log.info(f"{month} published as v{result.version} ({change}) with the run's commit")
    return f"| {month} | {result.version} | {'yes' if result.is_new_version else 'no'} | {change} |", None


def published_months(context: dg.AssetExecutionContext) -> list[str]:
    """The run's months whose published version holds the content the gate just passed."""
    from orchestration.defs.publication.gate import load_check_record
    from orchestration.defs.publication.publisher import read_catalog

    settings = get_settings()
    catalog = read_catalog(settings.published_dir).get("months", {})
    months = []
    for month in run_months(context):
        record = load_check_record(settings.data_dir, month)
        entry = catalog.get(month)
        if record.get("passed") and entry and entry.get("content_hash") == record.get("fingerprint"):
            months.append(month)
        else:
            context.log.warning(f"{month} is not published: no statements or report for it")
    return months


@dg.asset(
    key=["publication", "statements"],
    group_name="publication",
    partitions_def=PARTITIONS,
    backfill_policy=SINGLE_RUN,
    pool="warehouse",   # reads the warehouse: a read-only open also fails while another process writes
    owners=OWNERS,
    kinds={"excel"},
    deps=[PUBLISHED_KEY],
    description="Ersättningsunderlag: one formatted Excel workbook per VC and month, and a region summary.",
)
def statements(context: dg.AssetExecutionContext):
    from orchestration.defs.publication.statements import write_statements

    settings = get_settings()
    written = []
    for month in published_months(context):
        written += write_statements(settings.warehouse_path, month, settings.statements_dir)
    context.log.info(f"{len(written)} workbooks in {settings.statements_dir}")
    return dg.MaterializeResult(metadata={"workbooks": len(written),
                                          "folder": dg.MetadataValue.path(str(settings.statements_dir))})


@dg.asset(
    key=["publication", "monthly_report"],
    group_name="publication",
    partitions_def=PARTITIONS,
    backfill_policy=SINGLE_RUN,
    pool="warehouse",   # reads the warehouse: a read-only open also fails while another process writes
    owners=OWNERS,
    kinds={"html", "matplotlib"},
    deps=[PUBLISHED_KEY],
    description="The monthly report with charts: listed per VC, indicators against targets over 13 "
                "months, reimbursement per VC by component.",
)
def monthly_report(context: dg.AssetExecutionContext):
    from orchestration.defs.publication.report import write_reports

    settings = get_settings()
    results = write_reports(settings.warehouse_path, published_months(context), settings.reports_dir)
    result = results[-1] if results else None
    if result is None:
        return dg.MaterializeResult(metadata={"report": "no month of this run was published"})
    # The metadata shows the run's last published month, the one a person opens first.
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.path(str(result.html_path)),
        "summary": dg.MetadataValue.md(result.markdown_summary),
    })
