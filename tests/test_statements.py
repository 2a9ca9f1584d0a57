"""Excel statements read back with openpyxl: every krona recomputed from the sheet's own cells.

The hand-made marts fixture (no dbt) for layout, formats and page set-up; the real pipeline's
region (`published_region`) for the recomputation of every component of every VC.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import openpyxl
import pytest

from core.labels import COMPONENTS, components_of
from orchestration.defs.publication.statements import FOLLOW_UP_SHEET, SUMMARY_SHEET, write_statements
from tests.marts_fixture import OPEN_VCS, VC_A, VC_B, VC_C, build_marts_warehouse, execute, query

MONTH = "2025-02"
BASIS = ["Antal / bas", "Sats", "Faktor", "Delat med", "Belopp"]
SPEC = re.compile(r"^[A-Z]\. ")    # a specification's title: 'A. Kapitering – …'


def spec_of(statement: dict, label: str) -> list[dict] | None:
    """The lines of the component's specification (its title names the component)."""
    return next((lines for title, lines in statement["specs"].items() if title[3:].startswith(label)), None)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return build_marts_warehouse(tmp_path_factory.mktemp("st"))


@pytest.fixture(scope="module")
def written(warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    write_statements(warehouse, MONTH, out)
    return out / MONTH


def _rows(ws) -> list[tuple]:
    return [r for r in ws.iter_rows(values_only=True) if any(v is not None for v in r)]


def _find(rows, label):
    return next(r for r in rows if r[0] == label)


def read_statement(path: Path) -> dict:
    """The statement as a reader sees it: summary lines per component label, and each
    specification's lines (label -> list of {column header: value})."""
    ws = openpyxl.load_workbook(path)[SUMMARY_SHEET]
    rows = list(ws.iter_rows(values_only=True))
    summary_at = next(i for i, r in enumerate(rows) if r[0] == "Komponent")
    columns = [rows[summary_at].index(h) for h in BASIS]
    summary, specs, i = {}, {}, summary_at + 1
    while rows[i][0] != "Summa":
        summary[rows[i][0]] = dict(zip(BASIS, (rows[i][c] for c in columns)), text=rows[i][1])
        i += 1
    total = rows[i][columns[-1]]
    title = None
    for r in rows[i + 1:]:
        if r[0] and SPEC.match(str(r[0])):
            title, specs[r[0]] = r[0], []
        elif title and r[columns[0]] == BASIS[0]:
            continue                       # the specification's header row
        elif title and r[0] and str(r[0]).startswith("Summa "):
            title = None
        elif title and any(v is not None for v in r):
            specs[title].append(dict(zip(BASIS, (r[c] for c in columns)), label=r[0], text=r[1]))
    return {"summary": summary, "specs": specs, "total": total}


def recompute(line: dict) -> float:
    """amount = quantity × rate × factor ÷ divisor, an empty cell counting as 1."""
    value = (line["Antal / bas"] if line["Antal / bas"] is not None else 1) * line["Sats"]
    value *= line["Faktor"] if line["Faktor"] is not None else 1
    return value / (line["Delat med"] or 1)


def assert_every_krona_recomputes(path: Path, expected: dict) -> int:
    """Each component's amount equals reimbursement_monthly, and equals its basis recomputed
    from the sheet's own cells (the summary line, or the lines of its specification), to the öre."""
    statement = read_statement(path)
    checked = 0
    for column, label in components_of(expected.keys()):
        line = statement["summary"][label]
        assert line["Belopp"] == pytest.approx(expected[column], abs=0.01), (path.name, label)
        if line["Sats"] is not None:
            assert recompute(line) == pytest.approx(expected[column], abs=0.01), (path.name, label, line)
        else:
            spec = spec_of(statement, label)
            assert spec, (path.name, label, "neither a rate on the summary nor a specification", line)
            for s in spec:
                assert recompute(s) == pytest.approx(s["Belopp"], abs=0.01), (path.name, label, s)
            assert sum(recompute(s) for s in spec) == pytest.approx(expected[column], abs=0.01), (path.name, label)
        checked += 1
    assert statement["total"] == pytest.approx(expected["total"], abs=0.01)
    return checked


def test_one_workbook_per_vc_with_right_totals(warehouse, written):
    names = sorted(p.name for p in written.iterdir())
    assert names == sorted([f"ersattningsunderlag_{MONTH}_{vc}.xlsx" for vc in OPEN_VCS]
                           + [f"region_summary_{MONTH}.xlsx"])
    expected = query(warehouse, f"select * from marts.reimbursement_monthly where month = '{MONTH}'"
                     ).set_index("vardcentral_hsa_id")
    for vc in OPEN_VCS:
        wb = openpyxl.load_workbook(written / f"ersattningsunderlag_{MONTH}_{vc}.xlsx")
        assert wb.sheetnames == [SUMMARY_SHEET, FOLLOW_UP_SHEET]
        rows = _rows(wb[SUMMARY_SHEET])
        assert rows[0][0] == "Ersättningsunderlag februari 2025"
        statement = read_statement(written / f"ersattningsunderlag_{MONTH}_{vc}.xlsx")
        assert statement["total"] == pytest.approx(expected.at[vc, "total"], abs=0.005)
        assert sum(statement["summary"][label]["Belopp"] for _, label in components_of(expected.columns)) \
            == pytest.approx(statement["total"], abs=0.005)


def test_every_component_recomputes_from_the_sheets_own_basis_and_rate_cells(warehouse, written):
    expected = query(warehouse, f"select * from marts.reimbursement_monthly where month = '{MONTH}'")
    for r in expected.to_dict("records"):
        n = assert_every_krona_recomputes(written / f"ersattningsunderlag_{MONTH}_{r['vardcentral_hsa_id']}.xlsx", r)
        assert n == len(components_of(expected.columns))
    # the figures behind the amounts are on the sheet: listed per band and sex with annual rates,
    # the ACG weight sum, the VC's CNI, the deduction count, the VAT %, the start grant's month
    b = read_statement(written / f"ersattningsunderlag_{MONTH}_{VC_B}.xlsx")
    capitation = spec_of(b, "Kapitering")
    assert {(s["label"], s["text"]) for s in capitation} >= {("20–39 år", "Kvinnor")}
    assert all(s["Delat med"] == 12 and s["Sats"] > 1000 for s in capitation)
    assert b["summary"]["Vårdtyngd (ACG)"]["Antal / bas"] == pytest.approx(  # weights of VC B's persons
        sum(w for w in _fixture_weights(VC_B)), abs=1e-6)
    assert b["summary"]["Momskompensation"]["Sats"] == pytest.approx(0.02)
    assert "Månad 4 av 12" in b["summary"]["Startbidrag"]["text"]
    c = read_statement(written / f"ersattningsunderlag_{MONTH}_{VC_C}.xlsx")
    assert c["summary"]["Avdrag för besök på annan enhet"]["Antal / bas"] == 3
    assert c["summary"]["Avdrag för besök på annan enhet"]["Sats"] == -600
    assert 0.5 < c["summary"]["Socioekonomi (CNI)"]["Faktor"] < 1.5


def _fixture_weights(vc: str) -> list[float]:
    from tests.marts_fixture import _persons

    return [p["acg_weight"] if p["acg_weight"] is not None else 1.0 for p in _persons() if p["vc"].get(MONTH) == vc]


def test_cap_exceptions_and_follow_up_with_female_male_and_units(written):
    wb = openpyxl.load_workbook(written / f"ersattningsunderlag_{MONTH}_{VC_B}.xlsx")
    text = " ".join(str(v) for r in _rows(wb[SUMMARY_SHEET]) for v in r if v is not None)
    assert "listningstak 9\u00a0000 (2025-01-01–2025-12-31)" in text and "av taket" in text
    assert "Listade utan ACG-vikt" in text and "räknade med vikt 1,0" in text
    follow = wb[FOLLOW_UP_SHEET]
    rows = list(follow.iter_rows())
    header = next(r for r in rows if r[0].value == "Indikator")
    labels = [c.value for c in header]
    assert labels[4] == "feb 24" and labels[16] == "feb 25" and labels[17] == "Regionen"   # 13 months
    continuity = next(i for i, r in enumerate(rows) if r[0].value == "Kontinuitet läkare (COC)")
    assert [rows[continuity + k][1].value for k in range(3)] == ["Alla", "Kvinnor", "Män"]
    feb = labels.index("feb 25")
    assert rows[continuity][feb].number_format == "0.00"           # an index, not a %
    phone = next(r for r in rows if r[0].value == "Telefontillgänglighet samma dag")
    assert phone[3].value == pytest.approx(0.9) and phone[3].number_format == "0.0 %"
    assert phone[feb].fill.fgColor.rgb.endswith("C6EFCE")         # 38/40 = 95 % ≥ 90 %: met


def test_page_set_up_fonts_and_widths(written):
    for path in written.glob("ersattningsunderlag_*.xlsx"):
        wb = openpyxl.load_workbook(path)
        for ws, orientation in ((wb[SUMMARY_SHEET], "portrait"), (wb[FOLLOW_UP_SHEET], "landscape")):
            assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.orientation == orientation
            assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
            assert "&P" in ws.oddFooter.right.text and "&N" in ws.oddFooter.right.text
            vc = path.stem.split("_")[-1]
            assert vc in ws.oddHeader.left.text and "februari 2025" in ws.oddHeader.left.text
            for row in ws.iter_rows():
                for cell in row:
                    if cell.value is not None:
                        assert cell.font.name == "Arial", (path.name, cell.coordinate)
        follow = wb[FOLLOW_UP_SHEET]
        assert follow.print_title_rows and follow.print_title_rows.startswith("$4:$4")
        ws = wb[SUMMARY_SHEET]
        header = next(r for r in ws.iter_rows() if r[0].value == "Komponent")
        for cell in header:        # every column at least as wide as its longest word and number
            width = ws.column_dimensions[cell.column_letter].width
            longest = max((len(f"{c.value:,.0f}") + 3 if isinstance(c.value, float) else 0)
                          for c in ws[cell.column_letter] if c.row > cell.row and c.value is not None)
            assert width >= longest, (cell.value, width, longest)


def test_region_workbook_summary_heat_map_deviations_and_exceptions(warehouse, written):
    wb = openpyxl.load_workbook(written / f"region_summary_{MONTH}.xlsx")
    assert wb.sheetnames == ["Sammanställning", "Mål per vårdcentral", "Avvikelser", "Undantag"]
    summary = wb["Sammanställning"]
    assert summary.page_setup.orientation == "landscape" and summary.page_setup.fitToHeight == 1
    assert summary.column_dimensions["A"].width >= len(VC_A) + 1
    rows = _rows(summary)
    expected = query(warehouse, f"select * from marts.reimbursement_monthly where month = '{MONTH}'")
    assert _find(rows, "Totalt")[-1] == pytest.approx(expected["total"].sum(), abs=0.01)
    assert len([r for r in rows if r[0] in OPEN_VCS]) == 3
    # heat map: VC C's phone share 25/30 = 83 % against 90 %: within 10 % -> close (yellow)
    heat = wb["Mål per vårdcentral"]
    header = next(r for r in heat.iter_rows() if r[0].value == "HSA-id")
    phone_col = next(c.column for c in header if c.value == "Telefontillgänglighet samma dag")
    row_c = next(r for r in heat.iter_rows() if r[0].value == VC_C)
    assert row_c[phone_col - 1].fill.fgColor.rgb.endswith("FFEB9C")
    # deviations: VC C misses the assessment goal (7/10 = 70 % against 90 %: 20 percentage points) in both months
    deviations = _rows(wb["Avvikelser"])
    c_assessment = next(r for r in deviations if r[0] == VC_C and str(r[2]).startswith("Medicinsk bedömning"))
    assert c_assessment[5] == pytest.approx(20.0) and c_assessment[7] == 2 and c_assessment[8] == "2 av 2"
    assert not any(r[0] == VC_A and str(r[2]).startswith("Telefon") for r in deviations)   # 94 %: met
    exceptions = _rows(wb["Undantag"])
    assert any(r[0] == VC_B and r[2] == "Listade utan ACG-vikt" for r in exceptions)


def test_unchanged_rerun_leaves_every_workbook_untouched_and_a_change_rewrites_only_its_own(tmp_path):
    warehouse = build_marts_warehouse(tmp_path / "w")
    first = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in write_statements(warehouse, MONTH, tmp_path / "o")}
    os.utime(tmp_path / "o" / MONTH, None)
    again = write_statements(warehouse, MONTH, tmp_path / "o")
    assert sorted(again) == sorted(first)
    for path, (data, mtime) in first.items():
        assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime, path.name
    # the same content from a fresh folder gives the same bytes (no clock inside the file)
    fresh = {p.name: p.read_bytes() for p in write_statements(warehouse, MONTH, tmp_path / "fresh")}
    assert fresh == {p.name: d for p, (d, _) in first.items()}
    execute(warehouse, f"update marts.reimbursement_monthly set geography = geography + 1, total = total + 1 "
                       f"where month = '{MONTH}' and vardcentral_hsa_id = '{VC_A}'")
    write_statements(warehouse, MONTH, tmp_path / "o")
    changed = {p.name for p, (data, _) in first.items() if p.read_bytes() != data}
    assert changed == {f"ersattningsunderlag_{MONTH}_{VC_A}.xlsx", f"region_summary_{MONTH}.xlsx"}


def test_missing_supporting_marts_degrade_with_a_note(tmp_path):
    warehouse = build_marts_warehouse(tmp_path / "w", supporting=False)
    paths = write_statements(warehouse, MONTH, tmp_path / "out")
    wb = openpyxl.load_workbook(next(p for p in paths if VC_B in p.name))
    text = " ".join(str(v) for r in _rows(wb[SUMMARY_SHEET]) for v in r if v is not None)
    assert "reimbursement_goals_monthly" in text and "specifikation per kategori saknas" in text
    expected = query(warehouse, f"select total from marts.reimbursement_monthly where month = '{MONTH}' "
                                f"and vardcentral_hsa_id = '{VC_B}'").iloc[0, 0]
    assert read_statement(next(p for p in paths if VC_B in p.name))["total"] == pytest.approx(expected, abs=0.005)


def test_every_krona_of_every_vc_of_the_pipelines_region_recomputes(published_region, tmp_path):
    """The real models' marts: each component of each VC from the statement's own cells."""
    month = "2025-02"
    paths = write_statements(published_region.warehouse, month, tmp_path)
    expected = query(published_region.warehouse,
                     f"select * from marts.reimbursement_monthly where month = '{month}'")
    assert len(paths) == len(expected) + 2        # the VCs', the region's month and the region's year
    assert tmp_path / "2025" / "region_summary_2025.xlsx" in paths
    for r in expected.to_dict("records"):
        assert_every_krona_recomputes(tmp_path / month / f"ersattningsunderlag_{month}_{r['vardcentral_hsa_id']}.xlsx",
                                      r) == len(components_of(expected.columns))
    assert {label for _, label in COMPONENTS} >= {label for _, label in components_of(expected.columns)}


def test_a_statement_shows_the_registry_row_valid_at_the_months_end(tmp_path):
    """SPEC §3.5 history: VC B changes provider on 2025-02-01; January shows the old row."""
    warehouse = build_marts_warehouse(tmp_path / "w")
    execute(warehouse,
            f"insert into marts.vardcentraler select * replace ('Nya Älvdalen AB' as provider_name, "
            f"date '2025-02-01' as valid_from, null as valid_to) from marts.vardcentraler where hsa_id = '{VC_B}'",
            f"update marts.vardcentraler set valid_to = date '2025-01-31' "
            f"where hsa_id = '{VC_B}' and valid_from is null")
    for month, provider in (("2025-01", "Älvdalens Läkarhus AB"), ("2025-02", "Nya Älvdalen AB")):
        write_statements(warehouse, month, tmp_path / "o")
        rows = _rows(openpyxl.load_workbook(tmp_path / "o" / month / f"ersattningsunderlag_{month}_{VC_B}.xlsx")
                     [SUMMARY_SHEET])
        assert rows[2][0].startswith(f"Vårdgivare: {provider} ·"), (month, rows[2][0])


def test_an_unchanged_rerun_of_the_pipeline_leaves_statements_and_report_untouched(published_region, tmp_path):
    """End to end: a file share sees no changed file after an unchanged re-run (stable bytes)."""
    from tests.pipeline_fixture import run_ok

    region = published_region.copy(tmp_path / "region")          # copytree keeps modification times
    outputs = [p for folder in ("statements", "reports") for p in (region.data / folder).rglob("*") if p.is_file()]
    assert any(p.suffix == ".xlsx" for p in outputs) and any(p.suffix == ".html" for p in outputs)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in outputs}
    run_ok(region, "run", "--from", "2025-02")
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in outputs} == before
