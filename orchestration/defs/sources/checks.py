"""Contract checks beside the source assets: what each month's delivery held and lost.

The per-month blocking decision is the gate's (publication); these results make the
quarantine visible in the Dagster UI with counts and a masked sample.
"""
from __future__ import annotations

import dagster as dg

from orchestration.defs.sources.ingestion import SourceOutcome

SOURCE_ASSET_KEYS = {
    "listing": dg.AssetKey(["raw", "listing"]),
    "visits": dg.AssetKey(["raw", "visits"]),
    "telephony": dg.AssetKey(["raw", "telephony"]),
}

CONTRACT_CHECK_SPECS = [
    dg.AssetCheckSpec(
        name=f"{source}_contract",
        asset=key,
        description=f"The {source} delivery parsed and met its pandera contract, with quarantined "
                    "rows below VARDVAL_MAX_QUARANTINE_SHARE of the file.",
    )
    for source, key in SOURCE_ASSET_KEYS.items()
]


def contract_check_results(outcomes: list[SourceOutcome], max_share: float) -> list[dg.AssetCheckResult]:
    results = []
    for source, key in SOURCE_ASSET_KEYS.items():
        mine = [o for o in outcomes if o.source == source]
        failures = [o for o in mine if o.status == "file_error" or o.quarantine_share > max_share]
        lines = ["| month | file | status | read | accepted | quarantined | share |",
                 "|---|---|---|---:|---:|---:|---:|"]
        lines += [f"| {o.month} | {o.source_file or '—'} | {o.status} | {o.rows_read:,} | "
                  f"{o.rows_accepted:,} | {o.rows_quarantined:,} | {o.quarantine_share:.3%} |" for o in mine]
        reasons: dict[str, int] = {}
        for o in mine:
            for reason, count in o.reasons.items():
                reasons[reason] = reasons.get(reason, 0) + count
        sample = [row for o in mine for row in o.masked_sample][:10]
        problems = [f"{o.month}: {o.message}" if o.status == "file_error"
                    else f"{o.month}: {o.rows_quarantined} of {o.rows_read} rows quarantined "
                         f"({o.quarantine_share:.2%} > {max_share:.2%})" for o in failures]
        results.append(dg.AssetCheckResult(
            check_name=f"{source}_contract",
            asset_key=key,
            passed=not failures,
            severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(problems) if problems else None,
            metadata={
                "months": dg.MetadataValue.md("\n".join(lines)),
                "rows_quarantined": sum(o.rows_quarantined for o in mine),
                "reasons": dg.MetadataValue.json(reasons),
                "masked_sample": dg.MetadataValue.json(sample),
            },
        ))
    return results
