"""Source assets: the reference data and each month's three deliveries, landed in raw.*.

Asset keys match the dbt sources (`raw/<table>`), so dbt's staging models hang below them.
Both assets take a month range in one execution (single-run backfills).
"""

import dagster as dg

from core import vocabulary
from core.settings import get_settings
from orchestration.defs.partitions import OWNERS, PARTITIONS, SINGLE_RUN, check_outputs, partition_months
from orchestration.defs.sources.checks import CONTRACT_CHECK_SPECS, contract_check_results
from orchestration.defs.sources.ingestion import ingest_months, load_reference

REGISTRY = [dg.AssetKey(["raw", "vardcentraler"])]
REFERENCE_TABLES = ["vardcentraler", "cni_areas", "acg_weights", "development_grants",
                    "extra_assignments", "model_versions", "model_capitation", "model_geography",
                    "model_visit_fees", "model_deductions", "model_goals", "model_follow_up_targets"]
# Shipped with the code (core/vocabulary.py, core/indicator_catalogue.csv), written by
# the same step (core/warehouse.py ensure_schema) so dbt's sources over them have an asset.
SHIPPED_TABLES = ["vocabulary", "indicator_catalogue", "reporting_age_bands"]


@dg.multi_asset(
    name="reference_data",
    group_name="sources",
    partitions_def=PARTITIONS,
    backfill_policy=SINGLE_RUN,
    pool="warehouse",
    specs=[dg.AssetSpec(["raw", table], kinds={"python", "duckdb"}, owners=OWNERS,
                        description=f"Reference table raw.{table} from <landing>/reference/ "
                                    "(the region's configuration; replaced whole when a file changes).")
           for table in REFERENCE_TABLES]
          + [dg.AssetSpec(["raw", table], kinds={"python", "duckdb"}, owners=OWNERS,
                          description=f"Table raw.{table}, shipped with the code (sources/) and rewritten "
                                      "when the code's version differs.")
             for table in SHIPPED_TABLES],
)
def reference_data(context: dg.AssetExecutionContext):
    settings = get_settings()
    summary = load_reference(settings, force=bool(context.run.tags.get("vardval/force")))
    context.log.info(f"reference data {summary['status']}: {', '.join(summary['files'])}")
    for table in REFERENCE_TABLES:
        rows = summary.get("rows", {}).get(table)
        yield dg.MaterializeResult(asset_key=["raw", table],
                                   metadata={"status": summary["status"],
                                             **({"rows": rows} if rows is not None else {})})
    for table in SHIPPED_TABLES:
        yield dg.MaterializeResult(asset_key=["raw", table])


@dg.multi_asset(
    name="source_deliveries",
    group_name="sources",
    partitions_def=PARTITIONS,
    backfill_policy=SINGLE_RUN,
    pool="warehouse",
    specs=[
        dg.AssetSpec(["raw", "listing"], kinds={"python", "duckdb"}, owners=OWNERS, deps=REGISTRY,
                     description="Listing register snapshot at month end (listing.csv/.xlsx): accepted "
                                 "rows, personnummer replaced by person_key."),
        dg.AssetSpec(["raw", "visits"], kinds={"python", "duckdb"}, owners=OWNERS, deps=REGISTRY,
                     description="Contacts from the journal systems (visits.csv): accepted rows."),
        dg.AssetSpec(["raw", "telephony"], kinds={"python", "duckdb"}, owners=OWNERS, deps=REGISTRY,
                     description="Calls to the callback system (telephony.csv): accepted rows."),
        dg.AssetSpec(["raw", "quarantine"], kinds={"python", "duckdb"}, owners=OWNERS, deps=REGISTRY,
                     description="Rejected rows of every source with file, line, column, reason and a masked value."),
        dg.AssetSpec(["raw", "source_files"], kinds={"python", "duckdb"}, owners=OWNERS, deps=REGISTRY,
                     description="The month's current delivery per source: checksum, format, counts."),
    ],
    check_specs=CONTRACT_CHECK_SPECS,
)
def source_deliveries(context: dg.AssetExecutionContext):
    settings = get_settings()
    force = bool(context.run.tags.get("vardval/force"))
    outcomes = ingest_months(settings, partition_months(context), force=force)
    for outcome in outcomes:
        context.log.info(
            f"{outcome.month} {outcome.source}: {outcome.status}"
            + (f" — {outcome.message}" if outcome.message else
               f" — {outcome.rows_read:,} read, {outcome.rows_accepted:,} accepted, "
               f"{outcome.rows_quarantined:,} quarantined"))
    months = partition_months(context)
    broken = {o.month for o in outcomes if o.status == "file_error"}
    if broken == set(months):
        # Nothing to build: stop here with the reasons rather than run dbt on stale data.
        raise dg.Failure(
            description="no month of this run could be ingested",
            metadata={"errors": dg.MetadataValue.md(
                "\n".join(f"- {o.month} {o.source}: {o.message}" for o in outcomes if o.status == "file_error"))},
        )
    # Each month's own figures (a range run is one step: without them every month would show the sums).
    for o in outcomes:
        context.add_asset_metadata(asset_key=["raw", o.source], partition_key=o.month, metadata={
            "file": dg.MetadataValue.text(o.source_file or "—"),
            "delivery": dg.MetadataValue.text(o.status),
            "rows_read": dg.MetadataValue.int(o.rows_read),
            "rows_accepted": dg.MetadataValue.int(o.rows_accepted),
            "rows_quarantined": dg.MetadataValue.int(o.rows_quarantined),
            **({"message": dg.MetadataValue.text(o.message)} if o.message else {}),
        })
    for month in months:
        mine = [o for o in outcomes if o.month == month]
        context.add_asset_metadata(asset_key=["raw", "quarantine"], partition_key=month,
                                   metadata={"rows": sum(o.rows_quarantined for o in mine)})
        context.add_asset_metadata(asset_key=["raw", "source_files"], partition_key=month,
                                   metadata={"files": sum(1 for o in mine if o.source_file)})
    for key in (*vocabulary.SOURCES, "quarantine", "source_files"):
        yield dg.MaterializeResult(asset_key=["raw", key])
    yield from contract_check_results(outcomes, settings.max_quarantine_share)
    yield from check_outputs(context)
