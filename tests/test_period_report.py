"""The quarterly and yearly reports: their numbers are the published period tables' own.

A small region (the marts fixture) publishes January–March 2024 and January and March 2025;
February 2025 is blocked by a failing check, so 2025-Q1 is a quarter with a blocked month and
2025 a year to date. The report's tables (and the values under each chart, carried as
`data-value`) are compared with indicators_quarterly/yearly and reimbursement_quarterly/yearly of
published.duckdb, and a few figures with sums of the monthly tables done here by hand.
"""
from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.publication.gate import PublicationRefused, month_fingerprint, record_checks
from orchestration.defs.publication.period_report import report_periods, write_period_reports
from orchestration.defs.publication.publisher import publication, read_catalog
from tests.marts_fixture import VC_A, build_marts_warehouse, execute
from tests.test_publication import BAD, OK, _checked_publish

MONTHLY_TABLES = ("indicators_monthly", "listing_monthly", "contacts_monthly", "reimbursement_monthly",
                  "reimbursement_person_monthly", "data_quality_monthly", "reimbursement_goals_monthly",
                  "reimbursement_visit_fees_monthly", "reimbursement_exceptions_monthly")


def _copy_month(warehouse: Path, source: str, target: str, step: float) -> None:
    """`target` as a copy of `source` in every monthly mart, with counts, denominators and the
    capitation moved by `step`, so that each month's figures differ."""
    statements = [f"insert into marts.{t} select * replace ('{target}' as month) from marts.{t} "
                  f"where month = '{source}'" for t in MONTHLY_TABLES]
    statements += [
        f"update marts.indicators_monthly set numerator = numerator + {step}, "
        f"value = case when denominator is null then numerator + {step} else value end "
        f"where month = '{target}' and denominator is null",
        f"update marts.indicators_monthly set denominator = denominator + {step}, "
        f"value = numerator / (denominator + {step}) where month = '{target}' and denominator is not null",
        f"update marts.reimbursement_monthly set capitation = capitation + {step} * 10, "
        f"total = total + {step} * 10 where month = '{target}'",
    ]
    execute(warehouse, *statements)


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    data = tmp_path_factory.mktemp("period_report") / "data"
    w = build_marts_warehouse(data)
    for source, target, step in (("2025-01", "2024-01", 1), ("2025-01", "2024-02", 2), ("2025-02", "2024-03", 3),
                                 ("2025-02", "2025-03", 4)):
        _copy_month(w, source, target, step)
    with publication(data) as batch:                       # one commit, as a range run makes
        for month, outcomes in (("2024-01", OK), ("2024-02", OK), ("2024-03", OK), ("2025-01", OK),
                                ("2025-02", BAD), ("2025-03", OK)):
            record_checks(data, month, month_fingerprint(w, month), outcomes)
            try:
                batch.publish(w, month, input_checksums={}, check_outcomes=outcomes, code_version="test")
            except PublicationRefused:
                assert month == "2025-02"                  # blocked: never published
    assert sorted(read_catalog(data / "published")["months"]) == ["2024-01", "2024-02", "2024-03", "2025-01",
                                                                  "2025-03"]
    reports = data / "reports"
    results = {r.period: r for r in write_period_reports(w, data / "published", ["2025-03"], reports)}
    return w, data, results


class _Tables(HTMLParser):
    """Every table of a page: its attributes and its rows, each row's attributes and cells (the
    cell's data-value where it has one, else its text)."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._value: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append({"attrs": attrs, "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append({"attrs": attrs, "cells": [], "periods": []})
        elif tag in ("td", "th") and self.tables:
            self._cell, self._value = [], attrs.get("data-value")
            if "data-period" in attrs:
                self.tables[-1]["rows"][-1]["periods"].append(attrs["data-period"])

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            self.tables[-1]["rows"][-1]["cells"].append(text if self._value is None else self._value)
            self._cell = None


def _tables(path: Path) -> list[dict]:
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.tables


def _number(cell: str) -> float | None:
    return None if cell == "" else float(cell)


def _published(data: Path, sql: str, *args) -> list[tuple]:
    with duckdb.connect(str(data / "published" / "published.duckdb"), read_only=True) as con:
        return con.execute(sql, list(args)).fetchall()


def _indicator_values(data: Path, table: str, period: str) -> dict[tuple, float | None]:
    rows = _published(data, f"select vardcentral_hsa_id, indicator_code, profession, value from {table} "
                            "where period = ? and sex = 'all'", period)
    return {(vc, code, prof): value for vc, code, prof, value in rows}


def test_the_reports_of_a_quarter_with_a_blocked_month_and_of_the_year_to_date_are_written(region):
    _, data, results = region
    assert set(results) == {"2025-Q1", "2025"}
    quarter, year = results["2025-Q1"], results["2025"]
    assert quarter.html_path == data / "reports" / "2025-Q1" / "rapport_2025-Q1.html"
    assert year.html_path == data / "reports" / "2025" / "rapport_2025.html"
    page = quarter.html_path.read_text(encoding="utf-8")
    assert "kvartalsrapport kvartal 1 2025 (hittills)" in page
    assert "2 av 3 månader publicerade (till och med mars 2025)" in page
    assert "Saknas (ej publicerade): februari 2025." in page
    page = year.html_path.read_text(encoding="utf-8")
    assert "årsrapport 2025 (hittills)" in page and "Hittills i år: 2 av 12 månader publicerade" in page
    for result in (quarter, year):
        html = result.html_path.read_text(encoding="utf-8")
        assert html.count("data:image/png;base64,") == len(result.png_paths) >= 3
        assert all(p.parent == result.html_path.parent and p.read_bytes().startswith(b"\x89PNG")
                   for p in result.png_paths)
    # the year's latest quarter and the year show the same quarters: their common charts are one drawing
    common = {p.name.replace("2025-Q1", "2025") for p in quarter.png_paths} & {p.name for p in year.png_paths}
    assert "ersattning_kvartal_2025.png" in common and len(common) >= 3
    for name in common:
        assert (year.html_path.parent / name).read_bytes() == \
            (quarter.html_path.parent / name.replace("_2025.png", "_2025-Q1.png")).read_bytes()


@pytest.mark.parametrize("period, columns", [
    ("2025-Q1", ["2025-Q1", "2024-Q1"]),                       # the quarter; the previous year's quarters
    ("2025", ["2025-Q1", "2025", "2024-Q1", "2024"]),           # + each year (2025 to date)
])
def test_every_value_under_the_charts_is_the_period_tables_own(region, period, columns):
    _, data, results = region
    published = {}
    for table in ("indicators_quarterly", "indicators_yearly"):
        for vc, code, prof, p, value in _published(data, f"select vardcentral_hsa_id, indicator_code, profession, "
                                                        f"period, value from {table} where sex = 'all'"):
            published[(vc, code, prof, p)] = value
    checked = 0
    for t in _tables(results[period].html_path):
        if t["attrs"].get("class") != "values":
            continue
        code, prof = t["attrs"]["data-code"], t["attrs"]["data-profession"]
        assert t["rows"][0]["periods"] == columns
        for row in t["rows"][1:]:
            vc, cells = row["attrs"]["data-vc"], [_number(c) for c in row["cells"][1:]]
            expected = [published.get((vc, code, prof, p)) for p in columns]
            assert cells == [pytest.approx(e) if e is not None else None for e in expected], (code, prof, vc)
            checked += 1
    assert checked >= 4 * 4      # the region and three VCs, four indicators or more


def test_the_period_values_are_sums_of_the_published_months_by_hand(region):
    w, data, results = region
    tables = {t["attrs"].get("class"): t for t in _tables(results["2025-Q1"].html_path)}
    with duckdb.connect(str(w), read_only=True) as con:
        def monthly(sql):
            return con.execute(sql).fetchone()[0]
        # reimbursement: January and March (February blocked), every VC
        total = monthly("select sum(total) from marts.reimbursement_monthly where month in ('2025-01', '2025-03')")
        a_total = monthly(f"select sum(total) from marts.reimbursement_monthly where month in ('2025-01', '2025-03') "
                          f"and vardcentral_hsa_id = '{VC_A}'")
        # a stock is March's row; a share over events is Σ numerators / Σ denominators of January and March
        listed = monthly(f"select numerator from marts.indicators_monthly where month = '2025-03' and "
                         f"vardcentral_hsa_id = '{VC_A}' and indicator_code = 'listed_count' and sex = 'all'")
        num, den = con.execute(
            "select sum(numerator), sum(denominator) from marts.indicators_monthly where month in ('2025-01', "
            "'2025-03') and vardcentral_hsa_id = 'REGION' and indicator_code = 'phone_same_day_share' "
            "and sex = 'all' and profession = 'all'").fetchone()
    components = {row["cells"][0]: _number(row["cells"][1]) for row in tables["components"]["rows"][1:]}
    assert components["Summa"] == pytest.approx(total)
    vcs = {row["attrs"]["data-vc"]: row["cells"] for row in tables["vcs"]["rows"][1:]}
    assert _number(vcs[VC_A][4]) == pytest.approx(a_total) and vcs[VC_A][3] == "2"
    assert _number(vcs[VC_A][2]) == listed
    summary = {(row["attrs"]["data-code"], row["attrs"]["data-profession"]): row["cells"]
               for row in tables["indicators"]["rows"][1:]}
    assert _number(summary[("phone_same_day_share", "all")][1]) == pytest.approx(num / den)
    # ... and the period table agrees
    assert _published(data, "select sum(total) from reimbursement_quarterly where period = '2025-Q1'")[0][0] \
        == pytest.approx(total)


def test_an_unchanged_rerun_touches_nothing_and_a_correction_redraws(region, tmp_path):
    w, data, results = region
    files = [p for r in results.values() for p in (r.html_path, *r.png_paths)]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    again = write_period_reports(w, data / "published", ["2025-01", "2025-03"], data / "reports")
    assert [r.drawn for r in again] == [False, False]
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == before
    # a correction of 2024-02 changes the previous-year lines of 2025's reports
    execute(w, f"update marts.reimbursement_monthly set capitation = capitation + 1000, total = total + 1000 "
               f"where month = '2024-02' and vardcentral_hsa_id = '{VC_A}'")
    _checked_publish(w, data, "2024-02")
    assert {"2025-Q1", "2025", "2024-Q1", "2024"} <= set(report_periods(["2024-02"], read_catalog(data / "published")))
    redone = {r.period: r for r in write_period_reports(w, data / "published", ["2024-02"], data / "reports")}
    assert redone["2025"].drawn and redone["2025-Q1"].drawn and redone["2024"].drawn
    assert results["2025"].html_path.read_bytes() != before[results["2025"].html_path][0]
    # the previous year's line holds the corrected February; the table sets 2025 to date (January
    # and March) against the same months of 2024, never against a whole year
    tables = {t["attrs"].get("class"): t for t in _tables(redone["2025"].html_path)}
    assert tables["components"]["rows"][0]["cells"][1:] == ["2025 (2 av 12 mån)", "2024, samma månader (januari, mars)"]
    components = {row["cells"][0]: row["cells"] for row in tables["components"]["rows"][1:]}
    assert _number(components["Summa"][2]) == pytest.approx(
        _published(data, "select sum(total) from reimbursement_monthly where month in ('2024-01', '2024-03')")[0][0])
    assert _published(data, "select sum(total) from reimbursement_quarterly where period = '2024-Q1'")[0][0] == \
        pytest.approx(_published(data, "select sum(total) from reimbursement_monthly where month like '2024-%'")[0][0])


def test_report_periods_are_the_months_quarter_and_year_and_the_next_years():
    catalog = {"months": {m: {} for m in ("2024-11", "2025-01", "2025-04")}}
    assert report_periods(["2025-04"], catalog) == ["2025-Q2", "2025"]
    assert report_periods(["2024-11"], catalog) == ["2024-Q4", "2024", "2025-Q1", "2025-Q2", "2025"]


def test_a_nations_charts_show_the_region_and_the_vcs_furthest_from_the_target():
    import pandas as pd

    from orchestration.defs.publication.period_report import MAX_PANELS, ChartKey, YearInputs, _draw, _panels, _view

    vcs = [f"SE{i:04d}" for i in range(850)]
    months = {"2025-01": 1, "2025-02": 1, "2025-03": 1}

    def rows(period):
        return pd.DataFrame([dict(period=period, vardcentral_hsa_id=vc, indicator_code="phone_same_day_share",
                                  profession="all", sex="all", period_kind="events", value=(i % 100) / 100,
                                  last_published_month="2025-03") for i, vc in enumerate(["REGION", *vcs])])

    def reimb(period):
        return pd.DataFrame([dict(period=period, vardcentral_hsa_id=vc, vc_months=3, capitation=1.0, total=1.0)
                             for vc in vcs])

    targets = pd.DataFrame([dict(month="2025-03", indicator="phone_same_day_share", profession="all", low=None,
                                 high=0.9, direction=None, pays=True)])
    inputs = YearInputs(2025, {"2025-Q1": months, "2025": months}, rows("2025-Q1"), rows("2025"),
                        reimb("2025-Q1"), reimb("2025"), pd.DataFrame(), targets, {})
    view = _view(inputs, "2025")
    assert view.wanted == [("phone_same_day_share", "all")] and view.through == "2025-Q1"
    panels, note = _panels(view, "phone_same_day_share", "all")
    # REGION is index 0, so VC i has value ((i + 1) % 100) / 100: the lowest are i = 99, 199, … (value 0)
    assert len(panels) == MAX_PANELS and panels[0] == "REGION" and "av 850 vårdcentraler" in note
    values = {vc: ((i + 1) % 100) / 100 for i, vc in enumerate(vcs)}
    assert max(values[vc] for vc in panels[1:]) <= min(v for vc, v in values.items() if vc not in panels)
    drawn = _draw((ChartKey("indicator", 2025, "2025-Q1", "phone_same_day_share", "all"), view))
    assert drawn.png.startswith(b"\x89PNG") and "längst från målet" in drawn.caption


def test_the_pipeline_writes_its_months_quarter_and_year_reports_from_the_period_tables(published_region):
    """A `vardval run` of January and February: the reports of 2025-Q1 and 2025, to date."""
    reports, db = published_region.data / "reports", published_region.published / "published.duckdb"
    published = {}
    for table in ("indicators_quarterly", "indicators_yearly"):
        for vc, code, prof, p, value in published_region.query(
                f"select vardcentral_hsa_id, indicator_code, profession, period, value from {table} "
                "where sex = 'all'", db):
            published[(vc, code, prof, p)] = value
    for period, heading in (("2025-Q1", "kvartalsrapport kvartal 1 2025 (hittills)"),
                            ("2025", "årsrapport 2025 (hittills)")):
        path = reports / period / f"rapport_{period}.html"
        page = path.read_text(encoding="utf-8")
        assert heading in page and "2 av" in page and "till och med februari 2025" in page
        values = [t for t in _tables(path) if t["attrs"].get("class") == "values"]
        assert values
        for t in values:
            code, prof, periods = t["attrs"]["data-code"], t["attrs"]["data-profession"], t["rows"][0]["periods"]
            for row in t["rows"][1:]:
                expected = [published.get((row["attrs"]["data-vc"], code, prof, p)) for p in periods]
                assert [_number(c) for c in row["cells"][1:]] == \
                    [pytest.approx(e) if e is not None else None for e in expected]
        total = published_region.query("select sum(total) from reimbursement_monthly", db)[0][0]
        components = {r["cells"][0]: _number(r["cells"][1]) for t in _tables(path)
                      if t["attrs"].get("class") == "components" for r in t["rows"][1:]}
        assert components["Summa"] == pytest.approx(total)
