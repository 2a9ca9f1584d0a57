"""The gate's checks as Dagster asset checks: each delivery check, Great Expectations suite and
reconciliation by its own name, evaluated per month.

The gate produces a month's outcomes (validations: `delivery_outcomes`, `run_range_checks`); this
module only decides how they show in Dagster. Outcomes group into checks by name: a GE suite's
expectations (`ge:<suite>:...`) are one check `ge_<suite>`, the per-table row counts
(`month_has_rows:<table>`) one check `month_has_rows`; every other outcome is its own check.
The checks are declared from the validations themselves (the suites' names, and the names the
reconciliations report on an empty database), so a new reconciliation is a new check.

A check of a month passes when none of its blocking outcomes failed. A failed blocking outcome
makes it an ERROR (the month is not published); a failed warning alone makes it a WARN.
Its metadata holds every outcome of the check for the month and a sample a person can act on.
"""
from __future__ import annotations

import dataclasses
import functools
import warnings
from dataclasses import dataclass

import dagster as dg

from orchestration.defs.partitions import PARTITIONS

DELIVERY_CHECKS = {
    "deliveries_readable": "The month's three deliveries (listing, visits, telephony) were found and read; "
                           "a missing file, a missing column or an unreadable file blocks the month.",
    "quarantine_within_limit": "No delivery of the month has more quarantined rows than "
                               "VARDVAL_MAX_QUARANTINE_SHARE of its rows (default 0.5 %); the rows, "
                               "masked, with line and reason, are in the check <source>_contract of "
                               "raw/<source>.",
}
RECONCILIATIONS = {
    "month_has_rows": "Every published mart has rows for the month.",
    "components_sum_to_total": "Per VC, the reimbursement components add up to the total (within 0.005 SEK).",
    "person_rows_sum_to_vc_rows": "Per VC, the person rows' count, capitation, ACG, CNI and SÄBO add up to "
                                  "reimbursement_monthly (within 0.005 SEK).",
    "person_key_unique": "One person row per person_key and month, none without a key.",
    "listed_count_matches_listing": "Listed counts (reimbursement and the listed_count indicator) equal the "
                                    "accepted rows of the month's listing register, per VC and for the region.",
    "shares_within_unit_interval": "Every share indicator has a value in [0, 1] with numerator ≤ denominator.",
    "open_vc_has_reimbursement_row": "Every VC open in the month has a reimbursement row.",
    "reimbursement_rows_are_open_vcs": "No reimbursement row for a unit that is not an open VC in the month.",
    "vat_only_for_private": "Public VCs get no VAT compensation.",
    "listed_count_plausible": "A VC's listed count moved by less than the plausibility share against the "
                              "previous month (a warning: confirm with the listing register before paying).",
}
SAMPLE_ROWS = 10
TABLE_ROWS = 40


@dataclass(frozen=True)
class GateCheck:
    name: str
    blocking: bool
    description: str


def check_name(outcome_name: str) -> str:
    """The Dagster check an outcome belongs to."""
    if outcome_name.startswith("ge:"):
        return "ge_" + outcome_name.split(":")[1]
    return outcome_name.split(":")[0]


@functools.cache
def gate_checks() -> tuple[GateCheck, ...]:
    """Every check the gate evaluates for a month, in the order it runs them."""
    import duckdb

    from validations.expectations.expected import Expected
    from validations.expectations.suites import SUITES
    from validations.reconciliations import run_reconciliations

    checks = [GateCheck(name, True, text) for name, text in DELIVERY_CHECKS.items()]
    for suite, (mart, *_rest) in SUITES.items():
        checks.append(GateCheck(f"ge_{suite}", True,
                                f"Great Expectations suite `{suite}` on marts.{mart}: keys, completeness, "
                                "accepted values and ranges (validations/expectations/suites.py)."))
    # On an empty database every reconciliation reports itself (its table is missing); it
    # expects nothing there (no model, no catalogue to read what a month expects from).
    nothing = Expected(**{f.name: 0 if f.type == "int" else () for f in dataclasses.fields(Expected)})
    with duckdb.connect() as con:
        reconciled = run_reconciliations(con, "2000-01", previous_month="1999-12", expected=nothing)
    blocking: dict[str, bool] = {}
    for outcome in reconciled:
        name = check_name(outcome.name)
        blocking[name] = blocking.get(name, False) or outcome.blocking
    for name, blocks in blocking.items():
        checks.append(GateCheck(name, blocks, RECONCILIATIONS.get(
            name, f"Reconciliation `{name}` of the month's marts (validations/reconciliations.py).")))
    return tuple(checks)


def gate_check_specs(asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    with warnings.catch_warnings():   # partitioned checks are a preview in Dagster 1.13: one result per month
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _specs(asset_key)


def _specs(asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(check.name, asset=asset_key, blocking=check.blocking, partitions_def=PARTITIONS,
                              description=check.description + (" Blocks the month's publication."
                                                               if check.blocking else " Does not block."))
            for check in gate_checks()]


def undeclared(outcomes: list) -> list[str]:
    """Outcomes no declared check shows (they still count in the gate's record)."""
    declared = {check.name for check in gate_checks()}
    return sorted({o.name for o in outcomes if check_name(o.name) not in declared})


def month_evaluations(asset_key: dg.AssetKey, month: str, outcomes: list) -> list[dg.AssetCheckEvaluation]:
    """One evaluation per gate check for the month (partition), from the month's outcomes."""
    grouped: dict[str, list] = {}
    for outcome in outcomes:
        grouped.setdefault(check_name(outcome.name), []).append(outcome)
    return [_evaluation(asset_key, month, check, grouped.get(check.name, [])) for check in gate_checks()]


def _evaluation(asset_key: dg.AssetKey, month: str, check: GateCheck, outcomes: list) -> dg.AssetCheckEvaluation:
    failed = [o for o in outcomes if not o.passed]
    blocking_failed = [o for o in failed if o.blocking]
    if not outcomes:   # not a pass: a warning that the check did not run for the month
        return dg.AssetCheckEvaluation(
            asset_key=asset_key, check_name=check.name, passed=False, severity=dg.AssetCheckSeverity.WARN,
            description=f"{month}: not evaluated (the gate produced no result for this check).",
            blocking=check.blocking, partition=month)
    if failed:
        shown = blocking_failed or failed
        description = f"{month}: " + "; ".join(o.description for o in shown[:3])
        if len(shown) > 3:
            description += f" (and {len(shown) - 3} more)"
    else:
        description = f"{month}: passed" + (f" ({outcomes[0].description})" if len(outcomes) == 1 else
                                            f", {len(outcomes)} of {len(outcomes)} rules hold.")
    # Counts as text: the UI plots numbers over every evaluation, and months alternate here.
    metadata: dict[str, dg.MetadataValue] = {
        "rules": dg.MetadataValue.text(f"{len(outcomes) - len(failed)} of {len(outcomes)} hold"),
        "results": dg.MetadataValue.md(_results_table(outcomes)),
    }
    shown = blocking_failed or failed or (outcomes if len(outcomes) == 1 else [])
    sample = [row for o in shown for row in (o.metadata.get("sample") or [])][:SAMPLE_ROWS]
    if sample:
        metadata["sample"] = dg.MetadataValue.json(sample)
    details = {o.name: {k: v for k, v in o.metadata.items() if k != "sample"} for o in shown[:SAMPLE_ROWS]}
    if any(details.values()):
        metadata["details"] = dg.MetadataValue.json(details)
    tables = sorted({o.table for o in outcomes})
    if tables:
        metadata["tables"] = dg.MetadataValue.text(", ".join(tables))
    return dg.AssetCheckEvaluation(
        asset_key=asset_key, check_name=check.name, passed=not (blocking_failed or failed),
        # The severity a failure of this check has: ERROR when it blocks the month.
        severity=(dg.AssetCheckSeverity.ERROR if blocking_failed or (check.blocking and not failed)
                  else dg.AssetCheckSeverity.WARN),
        description=description[:4000], metadata=metadata, blocking=check.blocking, partition=month)


def _results_table(outcomes: list) -> str:
    """Failures first, then the rest; each rule's own sentence (it names the VC or figure)."""
    ordered = sorted(outcomes, key=lambda o: (o.passed, not o.blocking))
    lines = ["| rule | result | what |", "|---|---|---|"]
    for o in ordered[:TABLE_ROWS]:
        result = "passed" if o.passed else ("FAILED" if o.blocking else "warning")
        lines.append(f"| {o.name} | {result} | {o.description.replace('|', '/')[:300]} |")
    if len(ordered) > TABLE_ROWS:
        lines.append(f"| … | | {len(ordered) - TABLE_ROWS} more rules, all listed in the month's check record |")
    return "\n".join(lines)
