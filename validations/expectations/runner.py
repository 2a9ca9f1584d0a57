"""Run a month's checks: Great Expectations suites on the marts plus the SQL reconciliations.

What is exhaustive and what is sampled:
- GE suites run on ALL of the month's rows of the VC-level marts (indicators_monthly,
  listing_monthly, contacts_monthly, reimbursement_monthly, data_quality_monthly) and on the
  registry (vardcentraler): these are small even nationally (about 1 200 VCs).
- GE on `reimbursement_person_monthly` runs on a deterministic SAMPLE of the month's person
  rows (the `person_sample_size` rows with the smallest person_key; person_key is an HMAC, so
  this is a uniform pseudo-random sample that is the same on every run for the same content).
- Every reconciliation in `validations/reconciliations.py` is exhaustive SQL (person-key
  uniqueness, person rows summing to VC rows, listed counts against raw.listing, ...).

Samples in the metadata never hold a person_key.

A range of months (a backfill) validates the months' frames together first, months that expect
the same values (validations/expectations/expected.py: the same model bands, say) in one group:
every expectation is a row rule or a uniqueness whose key holds the month, so the months pass
together exactly when each passes alone (the registry frame covers the group: a registry row
valid in several months is one row, as in the table). Great Expectations costs about 2 s of fixed work per suite run, not
per row, so this saves that per extra month; if anything fails, each month is validated on its
own so that the failures name their month.
"""
from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from core.months import check_month
from core.published_tables import registry_month_filter
from core.warehouse import connect, table_exists
from validations.expectations.expected import Expected, expected_for_month
from validations.expectations.suites import SUITES
from validations.outcome import CheckOutcome

PERSON_SAMPLE_SIZE = 50_000
SAMPLE = 5
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _read_frames(con, month: str, person_sample_size: int,
                 expected: Expected) -> dict[str, pd.DataFrame | None]:
    """The frames the suites validate: one month's rows (the registry: its rows of the month)."""
    def read(table: str, where: str, extra: str = "") -> pd.DataFrame | None:
        if not table_exists(con, "marts", table):
            return None
        return con.sql(f"select * from marts.{table} where {where} {extra}").df()

    registry = read("vardcentraler", registry_month_filter(month))
    indicators = read("indicators_monthly", f"month = '{month}'")
    frames: dict[str, pd.DataFrame | None] = {}
    if indicators is None:
        frames["indicators_monthly_shares"] = frames["indicators_monthly_counts"] = None
    else:
        is_share = indicators["indicator_code"].isin(expected.unit_interval_codes)
        frames["indicators_monthly_shares"] = indicators[is_share].reset_index(drop=True)
        frames["indicators_monthly_counts"] = indicators[~is_share].reset_index(drop=True)
    frames["listing_monthly"] = read("listing_monthly", f"month = '{month}'")
    frames["contacts_monthly"] = read("contacts_monthly", f"month = '{month}'")
    frames["reimbursement_monthly"] = read("reimbursement_monthly", f"month = '{month}'")
    frames["reimbursement_person_monthly_sample"] = read(
        "reimbursement_person_monthly", f"month = '{month}'", f"order by person_key limit {int(person_sample_size)}")
    frames["data_quality_monthly"] = read("data_quality_monthly", f"month = '{month}'")
    frames["vardcentraler"] = registry
    return frames


def _clean(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str) and _HEX64.match(value):
        return "<person_key>"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _sample(result: dict, pointer_columns: list[str]) -> list[dict]:
    rows = result.get("unexpected_index_list") or []
    sample = []
    for row in rows[:SAMPLE]:
        if isinstance(row, dict):
            sample.append({k: _clean(v) for k, v in row.items() if k != "person_key"})
    if not sample:
        sample = [_clean(v) for v in (result.get("partial_unexpected_list") or [])[:SAMPLE]]
    return sample


def _describe_row(row: Any) -> str:
    if isinstance(row, dict):
        return ", ".join(f"{k} {v}" for k, v in row.items())
    return str(row)


def _gx_context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def run_expectation_suites(frames: dict[str, pd.DataFrame | None], month: str,
                           expected: Expected) -> list[CheckOutcome]:
    """GE 1.x: one pandas data source, one dataframe asset per batch, one suite per mart; the
    accepted values are the month's `expected`."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = _gx_context()
    source = context.data_sources.add_pandas(name="marts")
    outcomes: list[CheckOutcome] = []
    for batch_name, (mart, builder, pointer_columns) in SUITES.items():
        frame = frames.get(batch_name)
        table = f"marts.{mart}"
        if frame is None:
            outcomes.append(CheckOutcome(f"ge:{batch_name}", table, False, True,
                                         f"{table} is missing from the warehouse: run the transformation for {month}.",
                                         {"missing_table": table}))
            continue
        entries = builder(expected)
        expectations = []
        for index, (cls_name, kwargs, _blocking, _what) in enumerate(entries):
            expectations.append(getattr(gxe, cls_name)(**kwargs, meta={"entry": index}))
        suite = gx.ExpectationSuite(name=batch_name, expectations=expectations)
        asset = source.add_dataframe_asset(name=batch_name)
        definition = asset.add_batch_definition_whole_dataframe(f"{batch_name}_{month}")
        batch = definition.get_batch(batch_parameters={"dataframe": frame})
        pointer = [c for c in pointer_columns if c in frame.columns]
        # Pass/fail alone first: about half the time of COMPLETE, which collects the unexpected
        # rows of every expectation. Every expectation here is a map expectation with mostly = 1,
        # so one that passes has no unexpected row; a suite with a failure (or an error) is
        # validated again in full, for the counts and the samples its messages give.
        result = batch.validate(suite, result_format={"result_format": "BOOLEAN_ONLY"})
        if not result.success:
            result = batch.validate(suite, result_format={
                "result_format": "COMPLETE", "unexpected_index_column_names": pointer,
                "partial_unexpected_count": SAMPLE, "return_unexpected_index_query": False})
        # GE does not keep the suite's order in its results: match them back through meta
        by_entry = {int((res.expectation_config.meta or {})["entry"]): res for res in result.results}
        sampled = "sample" in batch_name
        rows_label = f"{len(frame)} sampled rows" if sampled else f"{len(frame)} rows"
        for index, (cls_name, kwargs, blocking, what) in enumerate(entries):
            res = by_entry[index]
            columns = kwargs.get("column") or "+".join(kwargs.get("column_list") or
                                                       [kwargs.get("column_A", ""), kwargs.get("column_B", "")])
            name = f"ge:{batch_name}:{res.expectation_config.type}:{columns}"
            info = res.exception_info or {}
            raised = bool(info.get("raised_exception")) if isinstance(info, dict) else False
            r = res.result or {}
            unexpected = int(r.get("unexpected_count") or 0)
            meta: dict[str, Any] = {"rows": len(frame), "unexpected": unexpected, "sampled": sampled,
                                    "expectation": res.expectation_config.type, "rule": what}
            if raised:
                message = str(info.get("exception_message") or "error")
                if str(columns) not in frame.columns and "column" in kwargs:
                    message = f"column {columns} is missing"
                outcomes.append(CheckOutcome(name, table, False, blocking,
                                             f"{table} {month}: cannot check that {what}: {message[:200]}.", meta))
                continue
            if res.success:
                outcomes.append(CheckOutcome(name, table, True, blocking,
                                             f"{table} {month}: {what} ({rows_label}).", meta))
                continue
            sample = [] if columns in ("person_key",) else _sample(r, pointer)
            if "person_key" in str(columns):
                sample = []
            meta["sample"] = sample
            example = f", e.g. {_describe_row(sample[0])}" if sample else ""
            outcomes.append(CheckOutcome(
                name, table, False, blocking,
                f"{table} {month}: {unexpected} of {rows_label} break the rule that {what}{example}.", meta))
    return outcomes


def _outcomes_for_month(together: list[CheckOutcome], frames: dict[str, pd.DataFrame | None],
                        month: str) -> list[CheckOutcome]:
    """The passing outcomes of a joint validation, restated for one month and its row counts."""
    outcomes = []
    for o in together:
        batch_name = o.name.split(":")[1]
        frame = frames.get(batch_name)
        rows = 0 if frame is None else len(frame)
        rows_label = f"{rows} sampled rows" if "sample" in batch_name else f"{rows} rows"
        what = o.metadata["rule"]
        outcomes.append(CheckOutcome(o.name, o.table, o.passed, o.blocking,
                                     f"{o.table} {month}: {what} ({rows_label}).",
                                     {**o.metadata, "rows": rows, "validated_with_months": True}))
    return outcomes


def run_range_checks(warehouse_path: Path, months: list[str], *, plausibility_share: float = 0.2,
                     person_sample_size: int = PERSON_SAMPLE_SIZE) -> dict[str, list[CheckOutcome]]:
    """run_month_checks for each month of a range (each month's previous month is month - 1)."""
    from core.months import shift_month
    from validations.reconciliations import run_reconciliations

    months = [check_month(m) for m in months]
    if len(months) == 1:
        return {months[0]: run_month_checks(warehouse_path, months[0], previous_month=shift_month(months[0], -1),
                                            plausibility_share=plausibility_share,
                                            person_sample_size=person_sample_size)}
    reconciliations, frames, expected = {}, {}, {}
    with connect(Path(warehouse_path), read_only=True) as con:
        for month in months:
            expected[month] = expected_for_month(con, month)
            reconciliations[month] = run_reconciliations(con, month, previous_month=shift_month(month, -1),
                                                         plausibility_share=plausibility_share,
                                                         expected=expected[month])
            frames[month] = _read_frames(con, month, person_sample_size, expected[month])
    # Months that expect the same (the same model bands, say) are validated together; a model
    # change in the range makes one group per version.
    groups: dict[Expected, list[str]] = {}
    for month in months:
        groups.setdefault(expected[month], []).append(month)
    out: dict[str, list[CheckOutcome]] = {}
    for group_expected, group in groups.items():
        joint: dict[str, pd.DataFrame | None] = {}
        for name in frames[group[0]]:
            parts = [frames[m][name] for m in group]
            joint[name] = None if any(p is None for p in parts) else pd.concat(parts, ignore_index=True)
        if joint.get("vardcentraler") is not None:   # a registry row valid in several months is one row
            joint["vardcentraler"] = joint["vardcentraler"].drop_duplicates(
                ["hsa_id", "valid_from"]).reset_index(drop=True)
        together = run_expectation_suites(joint, f"{group[0]}..{group[-1]}", group_expected)
        for m in group:
            suites = (_outcomes_for_month(together, frames[m], m) if all(o.passed for o in together)
                      else run_expectation_suites(frames[m], m, group_expected))
            out[m] = [*suites, *reconciliations[m]]
    return {m: out[m] for m in months}


def run_month_checks(warehouse_path: Path, month: str, *, previous_month: str | None = None,
                     plausibility_share: float = 0.2,
                     person_sample_size: int = PERSON_SAMPLE_SIZE) -> list[CheckOutcome]:
    """Every check of a month's marts; read-only on the warehouse. See the module docstring."""
    from validations.reconciliations import run_reconciliations

    check_month(month)
    with connect(Path(warehouse_path), read_only=True) as con:
        expected = expected_for_month(con, month)
        frames = _read_frames(con, month, person_sample_size, expected)

    def reconcile() -> list[CheckOutcome]:
        with connect(Path(warehouse_path), read_only=True) as con:
            return run_reconciliations(con, month, previous_month=previous_month,
                                       plausibility_share=plausibility_share, expected=expected)

    # The reconciliations are SQL (DuckDB releases the GIL): they run beside GE's validation.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconciliations") as pool:
        reconciliations = pool.submit(reconcile)
        suites = run_expectation_suites(frames, month, expected)
        return [*suites, *reconciliations.result()]
