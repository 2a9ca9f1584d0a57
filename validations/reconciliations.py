"""Reconciliations of a month's marts, in SQL against the warehouse (SPEC §7).

Every check here is EXHAUSTIVE: it looks at every row of the month (all 10.6 million person
rows at national scale; DuckDB aggregates them in seconds), unlike the Great Expectations
suite on `reimbursement_person_monthly`, which validates a deterministic sample.

Blocking (a failure stops publication):
- `month_has_rows`: every monthly published mart has rows for the month.
- `components_sum_to_total`: |Σ components − total| < 0.005 SEK per VC (the components of
  raw.vocabulary, i.e. sources/reimbursement_model.py COMPONENTS).
- `person_rows_sum_to_vc_rows`: per VC, the person rows' count and person components
  (capitation, ACG, CNI, SÄBO) add up to reimbursement_monthly (within 0.005 SEK).
- `person_key_unique`: one person row per person_key and month, none null.
- `listed_count_matches_listing`: reimbursement_monthly.listed_count and the indicator
  `listed_count` (sex all, profession all; REGION = the region's total) equal the accepted
  rows in `raw.listing` for the month, per VC.
- `shares_within_unit_interval`: every share indicator has value, numerator ≤ denominator in [0, 1].
- `open_vc_has_reimbursement_row`: every open VC (marts.vardcentraler's row valid on the
  month's last day: unit_type vardcentral, opened_on ≤ month end, closed_on null or ≥ month
  start) has a reimbursement row.
- `reimbursement_rows_are_open_vcs`: no reimbursement row for a unit that is not an open VC.
- `vat_only_for_private`: public VCs have vat_compensation 0.
Warning (not blocking):
- `listed_count_plausible`: a VC's listed count moved more than `plausibility_share` against
  the previous month.
"""
from __future__ import annotations

import duckdb

from core.published_tables import MAY_BE_EMPTY, NON_MONTHLY, PUBLISHED_TABLES, registry_month_filter
from core.warehouse import table_exists
from sources.reimbursement_model import AMOUNT_TOLERANCE_SEK as TOLERANCE_SEK
from validations.expectations.expected import Expected, expected_for_month
from validations.outcome import CheckOutcome

SAMPLE = 5


def _kr(value) -> str:
    if value is None:
        return "saknas"
    return f"{value:,.2f} kr".replace(",", " ")


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Unit names for messages (a unit with history: its latest row's name)."""
    if not table_exists(con, "marts", "vardcentraler"):
        return {}
    return dict(con.execute("select hsa_id, name from marts.vardcentraler order by hsa_id, valid_from nulls first")
                .fetchall())


def _vc(names: dict[str, str], hsa_id: str) -> str:
    name = names.get(hsa_id)
    return f"{hsa_id} ({name})" if name else str(hsa_id)


def _missing(name: str, table: str, month: str) -> CheckOutcome:
    return CheckOutcome(name, table, False, True,
                        f"{table} is missing from the warehouse, so {name} cannot be checked for {month}: "
                        "run the transformation (dbt) for the month.", {"missing_table": table})


def month_has_rows(con, month: str) -> list[CheckOutcome]:
    out = []
    for table in PUBLISHED_TABLES:
        name = f"month_has_rows:{table}"
        if not table_exists(con, "marts", table):
            out.append(_missing(name, f"marts.{table}", month))
            continue
        if table in MAY_BE_EMPTY:   # a model version may have no goals and no follow-up targets
            continue
        if table in NON_MONTHLY:
            n = con.execute(f"select count(*) from marts.{table}").fetchall()[0][0]
        else:
            n = con.execute(f"select count(*) from marts.{table} where month = ?", [month]).fetchall()[0][0]
        ok = n > 0
        out.append(CheckOutcome(
            name, f"marts.{table}", ok, True,
            f"marts.{table} has {n} rows for {month}." if ok else
            f"marts.{table} has no rows for {month}: the month has not been built; run it before publishing.",
            {"rows": n}))
    return out


def components_sum_to_total(con, month: str, names: dict[str, str], expected: Expected) -> CheckOutcome:
    name, table = "components_sum_to_total", "marts.reimbursement_monthly"
    if not table_exists(con, "marts", "reimbursement_monthly"):
        return _missing(name, table, month)
    expr = " + ".join(expected.components)
    bad = _rows(con, f"""
        select vardcentral_hsa_id, {expr} as components, total, total - ({expr}) as difference
        from marts.reimbursement_monthly where month = ?
          and (({expr}) is null or total is null or abs(total - ({expr})) >= {TOLERANCE_SEK})
        order by abs(total - ({expr})) desc nulls first, vardcentral_hsa_id""", [month])
    n = con.execute("select count(*) from marts.reimbursement_monthly where month = ?", [month]).fetchall()[0][0]
    if not bad:
        return CheckOutcome(name, table, True, True,
                            f"For all {n} VCs in {month} the components sum to the total (within {TOLERANCE_SEK} kr).",
                            {"vcs_checked": n, "vcs_failing": 0})
    first = bad[0]
    return CheckOutcome(
        name, table, False, True,
        f"The components do not sum to the total for {len(bad)} of {n} VCs in {month}, e.g. "
        f"{_vc(names, first['vardcentral_hsa_id'])}: components {_kr(first['components'])} vs total "
        f"{_kr(first['total'])} (difference {_kr(first['difference'])}); correct the reimbursement model run.",
        {"vcs_checked": n, "vcs_failing": len(bad), "sample": bad[:SAMPLE]})


def person_rows_sum_to_vc_rows(con, month: str, names: dict[str, str], expected: Expected) -> CheckOutcome:
    name, table = "person_rows_sum_to_vc_rows", "marts.reimbursement_person_monthly"
    for t in ("reimbursement_monthly", "reimbursement_person_monthly"):
        if not table_exists(con, "marts", t):
            return _missing(name, f"marts.{t}", month)
    figures = list(expected.person_components)
    sums = ", ".join(f"sum({f}) as {f}" for f in figures)
    conditions = " or ".join(
        [f"abs(coalesce(p.{f}, 0) - coalesce(r.{f}, 0)) >= {TOLERANCE_SEK}" for f in figures]
        # an open VC with no one listed (e.g. in the month it closes) has no person rows: its
        # zero listed count and zero components are compared to nothing, which is no difference
        + ["coalesce(p.persons, 0) <> coalesce(r.listed_count, 0)", "r.vardcentral_hsa_id is null"])
    bad = _rows(con, f"""
        with p as (
            select vardcentral_hsa_id as vc, count(*) as persons, {sums}
            from marts.reimbursement_person_monthly where month = ? group by 1),
        r as (select * from marts.reimbursement_monthly where month = ?)
        select coalesce(r.vardcentral_hsa_id, p.vc) as vardcentral_hsa_id,
               p.persons as person_rows, r.listed_count,
               {", ".join(f"p.{f} as person_{f}, r.{f} as vc_{f}" for f in figures)}
        from p full outer join r on p.vc = r.vardcentral_hsa_id
        where {conditions}
        order by 1""", [month, month])
    if not bad:
        return CheckOutcome(name, table, True, True,
                            f"Per VC in {month}, person rows add up to the VC's listed count, capitation, ACG, "
                            "CNI and SÄBO amounts.", {"vcs_failing": 0})
    first = bad[0]
    detail = []
    if first["person_rows"] != first["listed_count"]:
        detail.append(f"{first['person_rows'] or 0} person rows vs listed count {first['listed_count']}")
    for f in figures:
        a, b = first[f"person_{f}"], first[f"vc_{f}"]
        if a is None or b is None or abs(a - b) >= TOLERANCE_SEK:
            detail.append(f"{f} {_kr(a)} in person rows vs {_kr(b)} for the VC")
    return CheckOutcome(
        name, table, False, True,
        f"Person rows do not add up to the VC row for {len(bad)} VCs in {month}, e.g. "
        f"{_vc(names, first['vardcentral_hsa_id'])}: {'; '.join(detail)}.",
        {"vcs_failing": len(bad), "sample": bad[:SAMPLE]})


def person_key_unique(con, month: str) -> CheckOutcome:
    name, table = "person_key_unique", "marts.reimbursement_person_monthly"
    if not table_exists(con, "marts", "reimbursement_person_monthly"):
        return _missing(name, table, month)
    rows, distinct, nulls = con.execute(
        "select count(*), count(distinct person_key), count(*) - count(person_key) "
        "from marts.reimbursement_person_monthly where month = ?", [month]).fetchall()[0]
    duplicates = rows - nulls - distinct
    ok = duplicates == 0 and nulls == 0
    return CheckOutcome(
        name, table, ok, True,
        f"All {rows} person rows in {month} have a distinct person_key." if ok else
        f"{duplicates} duplicate and {nulls} empty person_key among {rows} person rows in {month}: "
        "a person is paid twice or not traceable; rebuild the month.",
        {"rows": rows, "duplicates": duplicates, "nulls": nulls})


def listed_count_matches_listing(con, month: str, names: dict[str, str]) -> CheckOutcome:
    name, table = "listed_count_matches_listing", "marts.reimbursement_monthly"
    for schema, t in (("raw", "listing"), ("marts", "reimbursement_monthly"), ("marts", "indicators_monthly")):
        if not table_exists(con, schema, t):
            return _missing(name, f"{schema}.{t}", month)
    bad = _rows(con, """
        with l as (select vardcentral_hsa_id as vc, count(*) as n from raw.listing where month = ? group by 1),
        lr as (select * from l union all select 'REGION', sum(n) from l),
        r as (select vardcentral_hsa_id as vc, listed_count as n from marts.reimbursement_monthly where month = ?),
        i as (select vardcentral_hsa_id as vc, numerator as n from marts.indicators_monthly
              where month = ? and indicator_code = 'listed_count' and sex = 'all' and profession = 'all'),
        vcs as (select vc from lr union select vc from r union select vc from i)
        select vcs.vc as vardcentral_hsa_id, lr.n as listing_rows, r.n as reimbursement_listed_count,
               i.n as indicator_listed_count
        from vcs left join lr using (vc) left join r using (vc) left join i using (vc)
        where coalesce(lr.n, 0) <> coalesce(i.n, -1)
           or (vcs.vc <> 'REGION' and coalesce(lr.n, 0) <> coalesce(r.n, -1))
        order by 1""", [month, month, month])
    total = con.execute("select count(*) from raw.listing where month = ?", [month]).fetchall()[0][0]
    if not bad:
        return CheckOutcome(name, table, True, True,
                            f"Listed counts in reimbursement_monthly and indicators_monthly equal the {total} "
                            f"accepted listing rows of {month}, per VC.", {"listing_rows": total, "vcs_failing": 0})
    first = bad[0]
    return CheckOutcome(
        name, table, False, True,
        f"Listed counts disagree with the accepted listing for {len(bad)} VCs in {month}, e.g. "
        f"{_vc(names, first['vardcentral_hsa_id'])}: {first['listing_rows'] or 0} listing rows, "
        f"listed_count {first['reimbursement_listed_count']} in reimbursement_monthly and "
        f"{first['indicator_listed_count']} in indicators_monthly; rebuild the month from the current listing.",
        {"listing_rows": total, "vcs_failing": len(bad), "sample": bad[:SAMPLE]})


def shares_within_unit_interval(con, month: str, names: dict[str, str], expected: Expected) -> CheckOutcome:
    name, table = "shares_within_unit_interval", "marts.indicators_monthly"
    if not table_exists(con, "marts", "indicators_monthly"):
        return _missing(name, table, month)
    codes = ", ".join(f"'{c}'" for c in expected.unit_interval_codes) or "null"
    where = f"month = ? and indicator_code in ({codes})"
    bad = _rows(con, f"""
        select vardcentral_hsa_id, indicator_code, sex, profession, numerator, denominator, value
        from marts.indicators_monthly
        where {where} and (value < 0 or value > 1 or numerator < 0 or denominator < 0
                           or numerator > denominator + 1e-9 or isnan(value) or isinf(value))
        order by vardcentral_hsa_id, indicator_code, sex, profession""", [month])
    n = con.execute(f"select count(*) from marts.indicators_monthly where {where}", [month]).fetchall()[0][0]
    if not bad:
        return CheckOutcome(name, table, True, True, f"All {n} share indicator rows of {month} lie in [0, 1].",
                            {"rows_checked": n, "rows_failing": 0})
    first = bad[0]
    return CheckOutcome(
        name, table, False, True,
        f"{len(bad)} share indicator rows of {month} lie outside [0, 1], e.g. "
        f"{_vc(names, first['vardcentral_hsa_id'])} {first['indicator_code']} (sex {first['sex']}, profession "
        f"{first['profession']}) = {first['value']} ({first['numerator']} / {first['denominator']}).",
        {"rows_checked": n, "rows_failing": len(bad), "sample": bad[:SAMPLE]})


def _open_vcs_sql(month: str) -> str:
    return (f"select hsa_id, name from marts.vardcentraler where unit_type = 'vardcentral' "
            f"and {registry_month_filter(month)}")


def open_vc_has_reimbursement_row(con, month: str, names: dict[str, str]) -> CheckOutcome:
    name, table = "open_vc_has_reimbursement_row", "marts.reimbursement_monthly"
    for t in ("vardcentraler", "reimbursement_monthly"):
        if not table_exists(con, "marts", t):
            return _missing(name, f"marts.{t}", month)
    missing = _rows(con, f"""
        select o.hsa_id, o.name from ({_open_vcs_sql(month)}) o
        where o.hsa_id not in (select vardcentral_hsa_id from marts.reimbursement_monthly where month = ?)
        order by 1""", [month])
    n_open = con.execute(f"select count(*) from ({_open_vcs_sql(month)})").fetchall()[0][0]
    if not missing:
        return CheckOutcome(name, table, True, True,
                            f"All {n_open} VCs open in {month} have a reimbursement row.",
                            {"open_vcs": n_open, "missing": 0})
    listed = ", ".join(_vc(names, r["hsa_id"]) for r in missing[:SAMPLE])
    return CheckOutcome(
        name, table, False, True,
        f"{len(missing)} of {n_open} VCs open in {month} have no reimbursement row: {listed}; "
        "the VC would not be paid — check the registry and the reimbursement run.",
        {"open_vcs": n_open, "missing": len(missing), "sample": [r["hsa_id"] for r in missing[:SAMPLE]]})


def reimbursement_rows_are_open_vcs(con, month: str, names: dict[str, str]) -> CheckOutcome:
    name, table = "reimbursement_rows_are_open_vcs", "marts.reimbursement_monthly"
    for t in ("vardcentraler", "reimbursement_monthly"):
        if not table_exists(con, "marts", t):
            return _missing(name, f"marts.{t}", month)
    extra = _rows(con, f"""
        select vardcentral_hsa_id, total from marts.reimbursement_monthly
        where month = ? and vardcentral_hsa_id not in (select hsa_id from ({_open_vcs_sql(month)}))
        order by 1""", [month])
    if not extra:
        return CheckOutcome(name, table, True, True,
                            f"Every reimbursement row of {month} belongs to a VC open in the month.", {"extra": 0})
    first = extra[0]
    return CheckOutcome(
        name, table, False, True,
        f"{len(extra)} reimbursement rows of {month} belong to units that are not VCs open in the month, e.g. "
        f"{_vc(names, first['vardcentral_hsa_id'])} with total {_kr(first['total'])}; check the registry.",
        {"extra": len(extra), "sample": extra[:SAMPLE]})


def vat_only_for_private(con, month: str, names: dict[str, str]) -> CheckOutcome:
    name, table = "vat_only_for_private", "marts.reimbursement_monthly"
    if not table_exists(con, "marts", "reimbursement_monthly"):
        return _missing(name, table, month)
    bad = _rows(con, """
        select vardcentral_hsa_id, owner_type, vat_compensation from marts.reimbursement_monthly
        where month = ? and owner_type = 'offentlig' and abs(vat_compensation) >= ? order by 1""",
                [month, TOLERANCE_SEK])
    if not bad:
        return CheckOutcome(name, table, True, True,
                            f"No public VC receives VAT compensation in {month}.", {"vcs_failing": 0})
    first = bad[0]
    return CheckOutcome(
        name, table, False, True,
        f"{len(bad)} public VCs receive VAT compensation in {month}, e.g. {_vc(names, first['vardcentral_hsa_id'])}"
        f" {_kr(first['vat_compensation'])}; only private VCs are compensated.",
        {"vcs_failing": len(bad), "sample": bad[:SAMPLE]})


def listed_count_plausible(con, month: str, previous_month: str | None, share: float,
                           names: dict[str, str]) -> CheckOutcome:
    name, table = "listed_count_plausible", "marts.reimbursement_monthly"
    if not table_exists(con, "marts", "reimbursement_monthly"):
        return CheckOutcome(name, table, False, False,
                            f"reimbursement_monthly is missing: listed counts of {month} not compared.", {})
    if previous_month is None:
        return CheckOutcome(name, table, True, False,
                            f"No previous month given: listed counts of {month} not compared.", {"compared": 0})
    rows = _rows(con, """
        select c.vardcentral_hsa_id, p.listed_count as previous, c.listed_count as current,
               (c.listed_count - p.listed_count) / nullif(p.listed_count, 0)::double as change
        from marts.reimbursement_monthly c
        join marts.reimbursement_monthly p on p.vardcentral_hsa_id = c.vardcentral_hsa_id and p.month = ?
        where c.month = ? order by abs(change) desc nulls first, 1""", [previous_month, month])
    if not rows:
        return CheckOutcome(name, table, True, False,
                            f"No reimbursement rows for {previous_month}: listed counts of {month} not compared.",
                            {"compared": 0})
    moved = [r for r in rows if r["change"] is None and r["current"] != r["previous"]
             or r["change"] is not None and abs(r["change"]) > share]
    if not moved:
        return CheckOutcome(name, table, True, False,
                            f"No VC's listed count moved more than {share:.0%} from {previous_month} to {month}.",
                            {"compared": len(rows), "moved": 0})
    first = moved[0]
    change = "from 0" if first["change"] is None else f"{first['change']:+.1%}"
    return CheckOutcome(
        name, table, False, False,
        f"{len(moved)} VCs' listed count moved more than {share:.0%} from {previous_month} to {month}, e.g. "
        f"{_vc(names, first['vardcentral_hsa_id'])}: {first['previous']} → {first['current']} ({change}); "
        "confirm with the listing register before paying.",
        {"compared": len(rows), "moved": len(moved), "sample": moved[:SAMPLE]})


def run_reconciliations(con: duckdb.DuckDBPyConnection, month: str, *, previous_month: str | None = None,
                        plausibility_share: float = 0.2, expected: Expected | None = None) -> list[CheckOutcome]:
    """All reconciliations of the month (exhaustive SQL) on an open, read-only connection; what
    they expect (components, share codes) is the month's (`expected_for_month`)."""
    expected = expected or expected_for_month(con, month)
    names = _names(con)
    return [
        *month_has_rows(con, month),
        components_sum_to_total(con, month, names, expected),
        person_rows_sum_to_vc_rows(con, month, names, expected),
        person_key_unique(con, month),
        listed_count_matches_listing(con, month, names),
        shares_within_unit_interval(con, month, names, expected),
        open_vc_has_reimbursement_row(con, month, names),
        reimbursement_rows_are_open_vcs(con, month, names),
        vat_only_for_private(con, month, names),
        listed_count_plausible(con, month, previous_month, plausibility_share, names),
    ]
