"""Year to date on the VC statement, the region's yearly workbook and the payouts beside the
period tables, through the real publication on the marts fixture.

The year: January (corrected to v2 after February was paid), February, March BLOCKED (never
published), April (its payout settles January's correction). Every expected figure is summed
here by hand from the published monthly tables and the payout ledger's rows.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from core.labels import COMPONENTS
from orchestration.defs.publication.gate import PublicationRefused
from orchestration.defs.publication.publisher import read_catalog
from orchestration.defs.publication.region_year_workbook import (
    PAID,
    PAID_ADJUSTMENTS,
    REIMBURSEMENT_SHEET,
    TARGETS_SHEET,
    year_workbook_path,
)
from orchestration.defs.publication.statements import FOLLOW_UP_SHEET, SUMMARY_SHEET, YEAR_TO_DATE, write_statements
from tests.marts_fixture import OPEN_VCS, VC_A, VC_B, build_marts_warehouse, execute
from tests.test_publication import BAD, _checked_publish

LABEL = dict(COMPONENTS)
APRIL_EXTRA_CAPITATION = 1234.5      # April differs from the February it is copied from
APRIL_LISTED_A = 57                  # VC A's listed count in April (a stock: the year-to-date value)


def _copy_month(w: Path, source: str, target: str) -> None:
    """Every row of `source` in every table with a `month` column, again as `target`."""
    with duckdb.connect(str(w)) as con:
        tables = con.execute("select table_schema, table_name from information_schema.columns "
                             "where column_name = 'month' and table_schema in ('marts', 'staging', 'raw')").fetchall()
        for schema, table in tables:
            con.execute(f'insert into {schema}."{table}" select * replace (\'{target}\' as month) '
                        f'from {schema}."{table}" where month = \'{source}\'')


def _move_capitation(w: Path, month: str, sek: float) -> None:
    """A correction: `sek` of capitation moves from VC A to VC B."""
    execute(w, f"update marts.reimbursement_monthly set capitation = capitation - {sek}, total = total - {sek} "
               f"where month = '{month}' and vardcentral_hsa_id = '{VC_A}'",
            f"update marts.reimbursement_monthly set capitation = capitation + {sek}, total = total + {sek} "
            f"where month = '{month}' and vardcentral_hsa_id = '{VC_B}'")


# VC A's new listings (a flow) per month and sex: February's are null, March's never published
NEW_LISTINGS_A = {"2025-01": (3, 2), "2025-02": (None, None), "2025-03": (9, 5), "2025-04": (4, 1)}


def _add_new_listings(w: Path) -> None:
    rows = []
    for month, counts in NEW_LISTINGS_A.items():
        for sex, n in zip(("all", "female"), counts):
            value = "null" if n is None else str(float(n))
            rows.append(f"('{month}', '{VC_A}', 'new_listings', '{sex}', 'all', {value}, null, {value}, false, "
                        "null, 'listing')")
    execute(w, "insert into marts.indicators_monthly (month, vardcentral_hsa_id, indicator_code, sex, profession, "
               "numerator, denominator, value, is_suppressed, window_months, unit_basis) values " + ", ".join(rows))


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    root = tmp_path_factory.mktemp("ytd")
    data = root / "data"
    w = build_marts_warehouse(data)
    _copy_month(w, "2025-02", "2025-03")
    _copy_month(w, "2025-02", "2025-04")
    execute(w, f"update marts.reimbursement_monthly set capitation = capitation + {APRIL_EXTRA_CAPITATION}, "
               f"total = total + {APRIL_EXTRA_CAPITATION} where month = '2025-04' and vardcentral_hsa_id = '{VC_A}'",
            f"update marts.indicators_monthly set numerator = {APRIL_LISTED_A}, value = {APRIL_LISTED_A} "
            f"where month = '2025-04' and vardcentral_hsa_id = '{VC_A}' and indicator_code = 'listed_count' "
            f"and sex = 'all'",
            f"update marts.indicators_monthly set numerator = 10, denominator = 40, value = 0.25 "
            f"where month = '2025-04' and vardcentral_hsa_id = '{VC_A}' and indicator_code = 'phone_same_day_share'")
    _add_new_listings(w)
    _checked_publish(w, data, "2025-01")
    _checked_publish(w, data, "2025-02")
    with pytest.raises(PublicationRefused):
        _checked_publish(w, data, "2025-03", outcomes=BAD)            # blocked: never published
    _move_capitation(w, "2025-01", 300.0)
    assert _checked_publish(w, data, "2025-01").version == 2           # pending until April's payout
    _checked_publish(w, data, "2025-04")
    out = root / "statements"
    write_statements(w, "2025-02", out)                                # written after April: up to February only
    write_statements(w, "2025-04", out)
    return w, data / "published", out


def _published(published: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(published / "published.duckdb"), read_only=True) as con:
        return con.sql(sql).df()


def _summary(path: Path) -> tuple[dict, dict]:
    """Per component label (and 'Summa'): the month's amount and the year to date, as the sheet shows them."""
    rows = list(openpyxl.load_workbook(path)[SUMMARY_SHEET].iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r[0] == "Komponent")
    amount, so_far = rows[at].index("Belopp"), rows[at].index(YEAR_TO_DATE)
    month, ytd = {}, {}
    for r in rows[at + 1:]:
        if r[0] is None:
            break
        month[r[0]], ytd[r[0]] = r[amount], r[so_far]
        if r[0] == "Summa":
            break
    return month, ytd


def _statement(out: Path, month: str, vc: str) -> Path:
    return out / month / f"ersattningsunderlag_{month}_{vc}.xlsx"


def test_the_blocked_month_is_not_published(year):
    _, published, _ = year
    months = read_catalog(published)["months"]
    assert sorted(months) == ["2025-01", "2025-02", "2025-04"] and months["2025-01"]["latest_version"] == 2


@pytest.mark.parametrize("month, in_year", [("2025-04", ("2025-01", "2025-02", "2025-04")),
                                            ("2025-02", ("2025-01", "2025-02"))])
def test_the_statements_year_to_date_components_are_sums_of_the_published_months(year, month, in_year):
    _, published, out = year
    monthly = _published(published, "select * from reimbursement_monthly")   # each month's latest version
    for vc in OPEN_VCS:
        shown_month, shown_ytd = _summary(_statement(out, month, vc))
        mine = monthly[(monthly["vardcentral_hsa_id"] == vc) & monthly["month"].isin(in_year)]
        assert sorted(mine["month"]) == list(in_year)
        for column, label in COMPONENTS:
            if label in shown_ytd:
                assert shown_ytd[label] == pytest.approx(float(mine[column].sum()), abs=1e-6), (vc, column)
        assert shown_ytd["Summa"] == pytest.approx(float(mine["total"].sum()), abs=1e-6)
        this_month = mine[mine["month"] == month].iloc[0]
        assert shown_month["Summa"] == pytest.approx(float(this_month["total"]))
    # January counts in its latest version (v2: +300 for VC B), the blocked March not at all
    _, ytd_b = _summary(_statement(out, month, VC_B))
    v1 = pq.read_table(published / "versions" / "2025-01" / "v0001" / "reimbursement_monthly.parquet").to_pandas()
    others = monthly[(monthly["vardcentral_hsa_id"] == VC_B) & monthly["month"].isin(in_year[1:])]
    jan_v1 = float(v1.loc[v1["vardcentral_hsa_id"] == VC_B, "capitation"].iloc[0])
    assert ytd_b[LABEL["capitation"]] == pytest.approx(jan_v1 + 300.0 + float(others["capitation"].sum()))


def test_the_statement_says_which_months_the_year_to_date_holds_and_what_was_paid(year):
    _, published, out = year
    rows = [r[0] for r in openpyxl.load_workbook(_statement(out, "2025-04", VC_B))[SUMMARY_SHEET]
            .iter_rows(values_only=True) if isinstance(r[0], str)]
    caption = next(r for r in rows if r.startswith("Hittills i år"))
    assert "januari–april 2025" in caption and "3 av 4 månader" in caption and "ej publicerad: mars" in caption
    paid = next(r for r in rows if r.startswith("Utbetalt hittills i år"))
    ledger = _published(published, f"select sum(amount_to_pay) as paid, sum(adjustments_total) as adj "
                                   f"from payouts where vardcentral_hsa_id = '{VC_B}'").iloc[0]
    assert f"{ledger.paid:,.0f} kr".replace(",", "\u00a0") in paid
    assert "3 utbetalningar" in paid and f"{ledger.adj:,.0f} kr" in paid   # +300 settled in April


def _follow_up_ytd(path: Path) -> dict[tuple[str, str], float]:
    """(indicator label, sex label) -> the year-to-date cell of the follow-up sheet."""
    rows = list(openpyxl.load_workbook(path)[FOLLOW_UP_SHEET].iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r[0] == "Indikator")
    col = rows[at].index(YEAR_TO_DATE)
    out, label = {}, None
    for r in rows[at + 1:]:
        label = r[0] or label
        out[(label, r[1])] = r[col]
    return out


def test_the_statements_year_to_date_indicators_roll_up_by_kind(year):
    _, published, out = year
    ind = _published(published, "select * from indicators_monthly where month in ('2025-01', '2025-02', '2025-04') "
                                f"and vardcentral_hsa_id = '{VC_A}' and profession = 'all'")
    shown = _follow_up_ytd(_statement(out, "2025-04", VC_A))

    def of(code, sex="all"):
        return ind[(ind["indicator_code"] == code) & (ind["sex"] == sex)]

    # stock: April's row (changed in April only)
    assert shown[("Antal listade", "Alla")] == APRIL_LISTED_A
    assert float(of("listed_count").set_index("month").at["2025-04", "value"]) == APRIL_LISTED_A
    # flow: the published months summed, February's null skipped, the blocked March left out
    for sex, label, i in (("all", "Alla", 0), ("female", "Kvinnor", 1)):
        flow = of("new_listings", sex)
        assert sorted(flow["month"]) == ["2025-01", "2025-02", "2025-04"]
        assert shown[("Nylistade", label)] == float(flow["numerator"].sum()) == (
            NEW_LISTINGS_A["2025-01"][i] + NEW_LISTINGS_A["2025-04"][i])
    # a share over events: Σ numerators / Σ denominators, not the mean of the months' shares
    rows = of("phone_same_day_share")
    assert len(rows) == 3
    by_hand = rows["numerator"].sum() / rows["denominator"].sum()
    assert shown[("Telefontillgänglighet samma dag", "Alla")] == pytest.approx(by_hand)
    assert by_hand != pytest.approx(rows["value"].mean())


def test_the_yearly_region_workbook_totals_equal_reimbursement_yearly(year):
    _, published, out = year
    path = year_workbook_path(out, "2025")
    assert path == out / "2025" / "region_summary_2025.xlsx" and path.is_file()
    ws = openpyxl.load_workbook(path)[REIMBURSEMENT_SHEET]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0].startswith("Ersättning per vårdcentral 2025, hittills i år (januari–april 2025)")
    at = next(i for i, r in enumerate(rows) if r[0] == "HSA-id")
    header = rows[at]
    by_vc = {r[0]: dict(zip(header, r)) for r in rows[at + 1:] if r[0] in OPEN_VCS}
    yearly = _published(published, "select * from reimbursement_yearly where period = '2025'").set_index(
        "vardcentral_hsa_id")
    assert set(by_vc) == set(yearly.index)
    for vc, shown in by_vc.items():
        assert shown["Summa"] == pytest.approx(float(yearly.at[vc, "total"]))
        assert shown[PAID] == pytest.approx(float(yearly.at[vc, "amount_paid"]))
        assert shown[PAID_ADJUSTMENTS] == pytest.approx(float(yearly.at[vc, "paid_adjustments_total"]))
        assert shown["Månader"] == 3
        for column, label in COMPONENTS:
            if label in shown:
                assert shown[label] == pytest.approx(float(yearly.at[vc, column]))
    total = next(dict(zip(header, r)) for r in rows[at + 1:] if r[0] == "Totalt")
    assert total["Summa"] == pytest.approx(float(yearly["total"].sum()))
    # ... and reimbursement_yearly is the sum of the published months, by hand
    monthly = _published(published, "select vardcentral_hsa_id, sum(total) as total from reimbursement_monthly "
                                     "where month like '2025-%' group by 1").set_index("vardcentral_hsa_id")
    for vc in OPEN_VCS:
        assert float(yearly.at[vc, "total"]) == pytest.approx(float(monthly.at[vc, "total"]))
    targets = list(openpyxl.load_workbook(path)[TARGETS_SHEET].iter_rows(values_only=True))
    assert any(r[0] == "REGION" for r in targets) and any(r[0] == VC_A for r in targets)


def test_payouts_beside_the_period_tables_equal_sums_of_the_payout_ledger(year):
    _, published, _ = year
    payouts = _published(published, "select * from payouts")
    assert sorted(payouts["payout_month"].unique()) == ["2025-01", "2025-02", "2025-04"]
    for table, period, months in (("reimbursement_quarterly", "2025-Q1", ("2025-01", "2025-02")),
                                  ("reimbursement_quarterly", "2025-Q2", ("2025-04",)),
                                  ("reimbursement_yearly", "2025", ("2025-01", "2025-02", "2025-04"))):
        rows = _published(published, f"select * from {table} where period = '{period}'").set_index(
            "vardcentral_hsa_id")
        mine = payouts[payouts["payout_month"].isin(months)].groupby("vardcentral_hsa_id")
        for vc in OPEN_VCS:
            assert rows.at[vc, "payouts_made"] == len(months)
            assert rows.at[vc, "amount_paid"] == pytest.approx(float(mine["amount_to_pay"].sum()[vc]))
            assert rows.at[vc, "paid_month_total"] == pytest.approx(float(mine["month_total"].sum()[vc]))
            assert rows.at[vc, "paid_adjustments_total"] == pytest.approx(float(mine["adjustments_total"].sum()[vc]))
    # January's correction was settled in April's payout: in Q2's payouts, not Q1's
    q2 = _published(published, "select * from reimbursement_quarterly where period = '2025-Q2'").set_index(
        "vardcentral_hsa_id")
    assert q2.at[VC_B, "paid_adjustments_total"] == pytest.approx(300.0)
    assert q2.at[VC_A, "paid_adjustments_total"] == pytest.approx(-300.0)
    # the period's reimbursement holds January v2; what was paid holds v1 plus the adjustment: equal here
    y = _published(published, "select * from reimbursement_yearly where period = '2025'").set_index(
        "vardcentral_hsa_id")
    for vc in OPEN_VCS:
        assert float(y.at[vc, "amount_paid"]) == pytest.approx(float(y.at[vc, "total"]), abs=0.01 * 3)
    # described for BI readers
    with duckdb.connect(str(published / "published.duckdb"), read_only=True) as con:
        comments = dict(con.execute("select column_name, comment from duckdb_columns() "
                                    "where table_name = 'reimbursement_yearly'").fetchall())
    assert all(comments.get(c) for c in ("payouts_made", "paid_month_total", "paid_adjustments_total",
                                         "amount_paid"))
