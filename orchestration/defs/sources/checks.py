"""Contract checks beside the source assets: what each month's delivery held and lost.

One result per source and month (the check's partition), with the counts, the reasons and a
masked sample of the quarantined rows. They are not Dagster-blocking: a month's blocking
decision is the gate's (`deliveries_readable` and `quarantine_within_limit` on
publication/month_gate, blocking per month), so that one bad month of a range does not stop
the others from being built and published.
"""
from __future__ import annotations

import warnings

import dagster as dg

from orchestration.defs.partitions import PARTITIONS
from orchestration.defs.sources.ingestion import SourceOutcome

SOURCE_ASSET_KEYS = {
    "listing": dg.AssetKey(["raw", "listing"]),
    "visits": dg.AssetKey(["raw", "visits"]),
    "telephony": dg.AssetKey(["raw", "telephony"]),
}

with warnings.catch_warnings():   # partitioned checks are a preview in Dagster 1.13: one result per month
    warnings.simplefilter("ignore", dg.PreviewWarning)
    CONTRACT_CHECK_SPECS = [
        dg.AssetCheckSpec(
            name=f"{source}_contract",
            asset=key,
            partitions_def=PARTITIONS,
            description=f"The month's {source} delivery parsed and met its pandera contract, with quarantined "
                        "rows below VARDVAL_MAX_QUARANTINE_SHARE of the file. A failure blocks the month at "
                        "the gate (publication/month_gate: deliveries_readable, quarantine_within_limit).",
        )
        for source, key in SOURCE_ASSET_KEYS.items()
    ]


def contract_check_results(outcomes: list[SourceOutcome], max_share: float) -> list[dg.AssetCheckEvaluation]:
    """One evaluation per source and month of the run."""
    results = []
    for source, key in SOURCE_ASSET_KEYS.items():
        for o in (o for o in outcomes if o.source == source):
            failed = o.status == "file_error" or o.quarantine_share > max_share
            problem = (f"{o.month}: {o.message}" if o.status == "file_error"
                       else f"{o.month}: {o.rows_quarantined} of {o.rows_read} rows quarantined "
                            f"({o.quarantine_share:.2%} > {max_share:.2%})")
            results.append(dg.AssetCheckEvaluation(
                asset_key=key,
                check_name=f"{source}_contract",
                passed=not failed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=problem if failed else
                f"{o.month}: {o.source_file}: {o.rows_accepted:,} of {o.rows_read:,} rows accepted "
                f"({o.status}).",
                partition=o.month,
                blocking=False,
                metadata={
                    "file": dg.MetadataValue.text(o.source_file or "—"),
                    "status": dg.MetadataValue.text(o.status),
                    "rows_read": dg.MetadataValue.int(o.rows_read),
                    "rows_accepted": dg.MetadataValue.int(o.rows_accepted),
                    "rows_quarantined": dg.MetadataValue.int(o.rows_quarantined),
                    "quarantine_share": dg.MetadataValue.float(round(o.quarantine_share, 6)),
                    "reasons": dg.MetadataValue.json(o.reasons),
                    "masked_sample": dg.MetadataValue.json(o.masked_sample[:10]),
                },
            ))
    return results
