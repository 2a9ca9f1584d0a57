"""Quarter and year (SPEC §5.1): period rollups from the published months only.

The rollup tests write a few monthly rows by hand as published version files and check each
kind against sums done here by hand; the publication tests go through `publish_month` on the
marts fixture (period Parquet, published.duckdb, republished only when a month changed).
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.vocabulary import COMPONENTS
from orchestration.defs.publication.layout import read_catalog
from orchestration.defs.publication.periods import compute_period_tables, current_path
from tests.marts_fixture import VC_B
from tests.test_publication import _checked_publish, _correct, wh  # noqa: F401 (fixture)

A, B = "SE-A", "SE-B"


def _ind(month, vc, code, num, den=None, sex="all", profession="all", window=None, basis="listing"):
    return dict(month=month, vardcentral_hsa_id=vc, indicator_code=code, sex=sex, profession=profession,
                numerator=None if num is None else float(num), denominator=den, value=None,
                is_suppressed=False, window_months=window, unit_basis=basis)


def _reimb(month, vc, capitation, goal_payment=0.0):
    row = dict(month=month, vardcentral_hsa_id=vc, listed_count=100)
    row.update({c: 0.0 for c in COMPONENTS})
    row.update(capitation=capitation, goal_payment=goal_payment, total=capitation + goal_payment)
    return row


# Published: 2025-01, 2025-03, 2025-04 (February was blocked: never published).
# VC B is closed in March (no rows from March on) but had January rows.
MONTH_ROWS = {
    "2025-01": [
        _ind("2025-01", A, "listed_count", 100), _ind("2025-01", B, "listed_count", 50),
        _ind("2025-01", "REGION", "listed_count", 150),
        _ind("2025-01", A, "new_listings", 4), _ind("2025-01", B, "new_listings", 7),
        _ind("2025-01", "REGION", "new_listings", 11),
        _ind("2025-01", A, "ended_listings", None), _ind("2025-01", "REGION", "ended_listings", None),
        _ind("2025-01", A, "distance_contact_share", 10, 40, basis="performing"),
        _ind("2025-01", B, "distance_contact_share", 5, 10, basis="performing"),
        _ind("2025-01", "REGION", "distance_contact_share", 15, 50, basis="performing"),
        _ind("2025-01", A, "continuity_doctor", 30, 60, window=12),
        _ind("2025-01", A, "listed_per_named_gp", 90, 2),
    ],
    "2025-03": [
        _ind("2025-03", A, "listed_count", 104), _ind("2025-03", "REGION", "listed_count", 104),
        _ind("2025-03", A, "new_listings", 3), _ind("2025-03", "REGION", "new_listings", 3),
        _ind("2025-03", A, "ended_listings", 2), _ind("2025-03", "REGION", "ended_listings", 2),
        _ind("2025-03", A, "distance_contact_share", 20, 30, basis="performing"),
        _ind("2025-03", "REGION", "distance_contact_share", 20, 30, basis="performing"),
        _ind("2025-03", A, "continuity_doctor", 40, 70, window=12),
        _ind("2025-03", A, "listed_per_named_gp", 96, 3),
    ],
    "2025-04": [
        _ind("2025-04", A, "listed_count", 108), _ind("2025-04", "REGION", "listed_count", 108),
        _ind("2025-04", A, "new_listings", 1), _ind("2025-04", "REGION", "new_listings", 1),
        _ind("2025-04", A, "distance_contact_share", 1, 2, basis="performing"),
        _ind("2025-04", "REGION", "distance_contact_share", 1, 2, basis="performing"),
    ],
}
REIMB_ROWS = {
    "2025-01": [_reimb("2025-01", A, 1000.0, 50.0), _reimb("2025-01", B, 500.0)],
    "2025-03": [_reimb("2025-03", A, 1100.0)],
    "2025-04": [_reimb("2025-04", A, 1200.0, 25.5)],
}


def _published(root: Path) -> tuple[Path, dict]:
    published = root / "published"
    catalog = {"months": {}}
    for month, rows in MONTH_ROWS.items():
        d = published / "versions" / month / "v0001"
        d.mkdir(parents=True)
        ind = pd.DataFrame(rows).astype({"denominator": "Int64", "window_months": "Int32"})
        pq.write_table(pa.Table.from_pandas(ind, preserve_index=False), d / "indicators_monthly.parquet")
        pq.write_table(pa.Table.from_pandas(pd.DataFrame(REIMB_ROWS[month]), preserve_index=False),
                       d / "reimbursement_monthly.parquet")
        catalog["months"][month] = {"latest_version": 1, "content_hash": month, "published_at": "x"}
    return published, catalog


@pytest.fixture
def periods(tmp_path):
    published, catalog = _published(tmp_path)
    tables = compute_period_tables(published, catalog, min_cell=5)
    return {name: t.to_pandas() for name, t in tables.items()}


def _row(df, period, vc, code):
    hit = df[(df.period == period) & (df.vardcentral_hsa_id == vc) & (df.indicator_code == code)]
    assert len(hit) <= 1
    return None if hit.empty else hit.iloc[0]


def test_a_quarter_with_a_blocked_month_rolls_up_each_kind_by_hand(periods):
    q = periods["indicators_quarterly"]
    # Q1: January and March published, February not.
    r = _row(q, "2025-Q1", A, "listed_count")
    assert (r.months_in_period, r.months_published, bool(r.is_complete)) == (3, 2, False)
    assert r.last_published_month == "2025-03"
    assert (r.period_start, r.period_end) == (date(2025, 1, 1), date(2025, 3, 31))
    assert r.value == 104 and r.period_kind == "stock"             # stock: March's row
    assert _row(q, "2025-Q1", A, "new_listings").value == 4 + 3    # flow: summed
    assert _row(q, "2025-Q1", A, "ended_listings").value == 2      # flow: null January skipped
    share = _row(q, "2025-Q1", A, "distance_contact_share")        # events: Σ num / Σ den
    assert (share.numerator, share.denominator) == (30, 70) and share.value == pytest.approx(30 / 70)
    assert pd.isna(share.window_months)
    cont = _row(q, "2025-Q1", A, "continuity_doctor")              # a windowed stock: March's window
    assert (cont.numerator, cont.denominator, cont.window_months) == (40, 70, 12)
    # VC B is not open in March: no stock row, but its January flow and events still count.
    assert _row(q, "2025-Q1", B, "listed_count") is None
    assert _row(q, "2025-Q1", B, "new_listings").value == 7
    assert _row(q, "2025-Q1", B, "distance_contact_share").denominator == 10


def test_region_rows_and_the_ratio(periods):
    q = periods["indicators_quarterly"]
    assert _row(q, "2025-Q1", "REGION", "listed_count").value == 104
    assert _row(q, "2025-Q1", "REGION", "new_listings").value == 4 + 7 + 3
    region = _row(q, "2025-Q1", "REGION", "distance_contact_share")
    assert (region.numerator, region.denominator) == (10 + 5 + 20, 40 + 10 + 30)
    ratio = _row(q, "2025-Q1", A, "listed_per_named_gp")
    assert (ratio.value, bool(ratio.is_suppressed)) == (32, False)  # March's 96 / 3, never suppressed


def test_year_to_date_and_a_stock_whose_last_month_is_missing(periods):
    y = periods["indicators_yearly"]
    r = _row(y, "2025", A, "listed_count")
    assert (r.months_in_period, r.months_published, bool(r.is_complete)) == (12, 3, False)
    assert r.last_published_month == "2025-04" and r.value == 108
    assert (r.period_start, r.period_end) == (date(2025, 1, 1), date(2025, 12, 31))
    assert _row(y, "2025", A, "new_listings").value == 4 + 3 + 1
    # continuity has no April row: the period's last published month has none, so no stock row.
    assert _row(y, "2025", A, "continuity_doctor") is None
    # Q2 so far: April only; Q2's flow whose months are all null would be null (ended_listings has none)
    assert _row(periods["indicators_quarterly"], "2025-Q2", A, "ended_listings") is None
    assert _row(periods["indicators_quarterly"], "2025-Q2", A, "listed_count").months_published == 1


def test_a_flow_whose_months_are_all_null_is_null(tmp_path):
    published, catalog = _published(tmp_path)
    del catalog["months"]["2025-03"], catalog["months"]["2025-04"]
    q = compute_period_tables(published, catalog, min_cell=5)["indicators_quarterly"].to_pandas()
    r = _row(q, "2025-Q1", A, "ended_listings")
    assert pd.isna(r.value) and pd.isna(r.numerator) and not r.is_suppressed


def test_a_stock_whose_period_ends_on_a_missing_month_is_the_last_published_months_row(tmp_path):
    published, catalog = _published(tmp_path)
    del catalog["months"]["2025-03"]            # March blocked: Q1 is January alone, 2025 January and April
    tables = compute_period_tables(published, catalog, min_cell=5)
    q = tables["indicators_quarterly"].to_pandas()
    r = _row(q, "2025-Q1", A, "listed_count")
    assert (r.months_published, r.last_published_month, r.value) == (1, "2025-01", 100)
    # VC B was open in January, the quarter's last published month: it has its stock rows now
    assert _row(q, "2025-Q1", B, "listed_count").value == 50
    assert _row(q, "2025-Q1", "REGION", "listed_count").value == 150
    cont = _row(q, "2025-Q1", A, "continuity_doctor")
    assert (cont.numerator, cont.denominator, cont.window_months, cont.value) == (30, 60, 12, 0.5)
    y = tables["indicators_yearly"].to_pandas()
    assert _row(y, "2025", A, "listed_count").value == 108            # April's
    assert _row(y, "2025", B, "listed_count") is None                 # not open in April
    assert _row(y, "2025", "REGION", "new_listings").value == 11 + 1   # January's and April's
    reimb = tables["reimbursement_yearly"].to_pandas().set_index("vardcentral_hsa_id")
    assert reimb.loc[A, "total"] == 1050.0 + 1225.5 and reimb.loc[A, "months_published"] == 2


def test_region_rows_of_the_year_to_date(periods):
    y = periods["indicators_yearly"]
    assert _row(y, "2025", "REGION", "listed_count").value == 108                # April's REGION row
    assert _row(y, "2025", "REGION", "new_listings").value == 11 + 3 + 1
    assert _row(y, "2025", "REGION", "ended_listings").value == 2                 # January's null skipped
    share = _row(y, "2025", "REGION", "distance_contact_share")
    assert (share.numerator, share.denominator) == (15 + 20 + 1, 50 + 30 + 2)
    assert share.value == pytest.approx(36 / 82)
    assert (share.months_published, bool(share.is_complete)) == (3, False)


def test_a_higher_suppression_limit_suppresses_period_rows_of_each_kind(tmp_path):
    published, catalog = _published(tmp_path)
    q = compute_period_tables(published, catalog, min_cell=40)["indicators_quarterly"].to_pandas()

    def suppressed(vc, code, period="2025-Q1"):
        return bool(_row(q, period, vc, code).is_suppressed)

    assert suppressed(A, "new_listings") and suppressed("REGION", "new_listings")   # flows 7 and 14: 1..39
    assert not suppressed(A, "listed_count") and not suppressed("REGION", "listed_count")   # stock 104
    assert suppressed(B, "distance_contact_share")                                 # Σ denominators 10
    assert not suppressed(A, "distance_contact_share")                             # 70
    assert not suppressed("REGION", "distance_contact_share")                      # 80
    assert not suppressed(A, "continuity_doctor")                                  # March's denominator 70
    assert not suppressed(A, "listed_per_named_gp")                                # a ratio: never
    assert suppressed(A, "ended_listings")                                         # flow 2 (January null)


def test_period_rows_are_suppressed_by_the_monthly_rule(periods):
    q = periods["indicators_quarterly"]
    # min_cell 5: B's January new_listings 7 is not suppressed; A's Q2 new_listings 1 is.
    assert not _row(q, "2025-Q1", B, "new_listings").is_suppressed
    assert _row(q, "2025-Q2", A, "new_listings").is_suppressed
    # a share: A's Q2 distance share has denominator 2 < 5, Q1's 70 is not
    assert _row(q, "2025-Q2", A, "distance_contact_share").is_suppressed
    assert not _row(q, "2025-Q1", A, "distance_contact_share").is_suppressed
    # a count of 4 in one month (suppressed monthly) summed with 3 gives 7: not suppressed
    assert not _row(q, "2025-Q1", A, "new_listings").is_suppressed


def test_reimbursement_sums_each_component_over_the_published_months(periods):
    q = periods["reimbursement_quarterly"].set_index(["period", "vardcentral_hsa_id"])
    assert q.loc[("2025-Q1", A), "capitation"] == 1000.0 + 1100.0
    assert q.loc[("2025-Q1", A), "goal_payment"] == 50.0
    assert q.loc[("2025-Q1", A), "total"] == 1000.0 + 50.0 + 1100.0
    assert q.loc[("2025-Q1", A), "vc_months"] == 2 and q.loc[("2025-Q1", A), "months_published"] == 2
    assert q.loc[("2025-Q1", B), "total"] == 500.0 and q.loc[("2025-Q1", B), "vc_months"] == 1
    y = periods["reimbursement_yearly"].set_index(["period", "vardcentral_hsa_id"])
    assert y.loc[("2025", A), "total"] == 1050.0 + 1100.0 + 1225.5
    assert set(COMPONENTS) <= set(y.columns)


def _paid(month, vc, month_total, adjustments=0.0):
    return dict(payout_month=month, vardcentral_hsa_id=vc, provider_name="p", provider_org_number=None,
                month_total=month_total, adjustments_total=adjustments,
                amount_to_pay=round(month_total + adjustments, 2), paid_at="x")


def test_the_payouts_of_the_period_stand_beside_its_reimbursement(tmp_path):
    published, catalog = _published(tmp_path)
    payouts = pd.DataFrame([
        _paid("2025-01", A, 1050.0), _paid("2025-01", B, 500.0),
        _paid("2025-03", A, 1100.0, 12.5), _paid("2025-03", B, 0.0, -20.0),    # B closed: claws back
        _paid("2025-04", A, 1225.5), _paid("2025-04", "SE-C", 0.0, 7.25),      # C: paid, no month of its own
    ])
    tables = compute_period_tables(published, catalog, min_cell=5, payouts=payouts)
    q = tables["reimbursement_quarterly"].to_pandas().set_index(["period", "vardcentral_hsa_id"])
    a = q.loc[("2025-Q1", A)]
    assert (a.payouts_made, a.paid_month_total, a.paid_adjustments_total, a.amount_paid) == (
        2, 1050.0 + 1100.0, 12.5, 1050.0 + 1112.5)
    b = q.loc[("2025-Q1", B)]
    assert (b.vc_months, b.total, b.payouts_made, b.amount_paid) == (1, 500.0, 2, 480.0)
    c = q.loc[("2025-Q2", "SE-C")]
    assert (c.vc_months, c.total, c.capitation, c.payouts_made, c.amount_paid) == (0, 0.0, 0.0, 1, 7.25)
    assert c.months_published == 1 and c.last_published_month == "2025-04"
    y = tables["reimbursement_yearly"].to_pandas().set_index(["period", "vardcentral_hsa_id"])
    assert y.loc[("2025", A), "amount_paid"] == 1050.0 + 1112.5 + 1225.5
    assert y.loc[("2025", A), "payouts_made"] == 3
    # no ledger: nothing paid, and every VC with months still has its row
    empty = compute_period_tables(published, catalog, min_cell=5)["reimbursement_yearly"].to_pandas()
    assert set(empty["vardcentral_hsa_id"]) == {A, B} and (empty["amount_paid"] == 0).all()
    assert (empty["payouts_made"] == 0).all()


# --------------------------------------------------------------------------------- publication

def test_periods_are_published_with_their_months_and_only_when_a_month_changed(wh):
    w, d = wh
    pub = d / "published"
    _checked_publish(w, d, "2025-01")
    quarter = current_path(pub, "reimbursement_quarterly", "2025-Q1")
    assert quarter.exists() and current_path(pub, "indicators_yearly", "2025").exists()
    assert read_catalog(pub)["periods"]["2025-Q1"] == {"2025-01": 1}
    first_bytes = quarter.read_bytes()
    _checked_publish(w, d, "2025-02")
    assert read_catalog(pub)["periods"]["2025-Q1"] == {"2025-01": 1, "2025-02": 1}
    assert quarter.read_bytes() != first_bytes
    with duckdb.connect(str(pub / "published.duckdb"), read_only=True) as con:
        by_hand = con.execute("select sum(total) from reimbursement_monthly where vardcentral_hsa_id = ?",
                              [VC_B]).fetchone()[0]
        period = con.execute("select total, months_published, is_complete from reimbursement_quarterly "
                             "where period = '2025-Q1' and vardcentral_hsa_id = ?", [VC_B]).fetchone()
        assert period[0] == pytest.approx(by_hand) and period[1:] == (2, False)
        stock = con.execute("select count(*) from indicators_yearly i join indicators_monthly m "
                            "on m.month = '2025-02' and m.vardcentral_hsa_id = i.vardcentral_hsa_id "
                            "and m.indicator_code = i.indicator_code and m.sex = i.sex "
                            "and m.profession = i.profession and m.numerator is not distinct from i.numerator "
                            "where i.indicator_code = 'listed_count'").fetchone()[0]
        assert stock == con.execute("select count(*) from indicators_monthly where month = '2025-02' "
                                    "and indicator_code = 'listed_count'").fetchone()[0] > 0
    # unchanged months: nothing rewritten
    before = quarter.stat().st_mtime_ns
    _checked_publish(w, d, "2025-02")
    assert quarter.stat().st_mtime_ns == before
    # a correction of February gives it v2 and republishes the quarter with it
    _correct(w)
    _checked_publish(w, d, "2025-02")
    assert read_catalog(pub)["periods"]["2025-Q1"] == {"2025-01": 1, "2025-02": 2}
    with duckdb.connect(str(pub / "published.duckdb"), read_only=True) as con:
        total = con.execute("select total from reimbursement_quarterly where period = '2025-Q1' "
                            "and vardcentral_hsa_id = ?", [VC_B]).fetchone()[0]
    assert total == pytest.approx(period[0] + 100.0)
    assert pq.read_table(quarter).num_rows > 0
    assert json.loads((pub / "catalog.json").read_text())["periods"]["2025"] == {"2025-01": 1, "2025-02": 2}
