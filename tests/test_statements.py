"""Excel statements read back with openpyxl (hand-made marts fixture, no dbt)."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from orchestration.defs.publication.statements import COMPONENTS, write_statements
from tests.marts_fixture import OPEN_VCS, VC_B, build_marts_warehouse, query


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return build_marts_warehouse(tmp_path_factory.mktemp("st"))


def _rows(ws) -> list[tuple]:
    return [r for r in ws.iter_rows(values_only=True) if any(v is not None for v in r)]


def _find(rows, label):
    return next(r for r in rows if r[0] == label)


def test_one_workbook_per_vc_with_right_totals(warehouse, tmp_path):
    paths = write_statements(warehouse, "2025-02", tmp_path)
    names = sorted(p.name for p in paths)
    assert names == sorted([f"ersattningsunderlag_2025-02_{vc}.xlsx" for vc in OPEN_VCS]
                           + ["region_summary_2025-02.xlsx"])
    expected = query(warehouse, "select * from marts.reimbursement_monthly where month = '2025-02'"
                     ).set_index("vardcentral_hsa_id")
    for vc in OPEN_VCS:
        wb = openpyxl.load_workbook(tmp_path / "2025-02" / f"ersattningsunderlag_2025-02_{vc}.xlsx")
        assert wb.sheetnames == ["Ersättningsunderlag", "Indikatorer"]
        ws = wb["Ersättningsunderlag"]
        rows = _rows(ws)
        assert rows[0][0] == "Ersättningsunderlag februari 2025"
        summa = _find(rows, "Summa")
        assert summa[2] == pytest.approx(expected.at[vc, "total"], abs=0.005)
        assert sum(_find(rows, label)[2] for _, label in COMPONENTS) == pytest.approx(summa[2], abs=0.005)
        assert _find(rows, "Kapitering")[2] == pytest.approx(expected.at[vc, "capitation"], abs=0.005)
        assert _find(rows, "Totalt")[3] == expected.at[vc, "listed_count"]   # listed by age band and sex
        total_cell = next(c for row in ws.iter_rows() for c in row if c.value == "Summa")
        value_cell = ws.cell(row=total_cell.row, column=3)
        assert value_cell.font.bold and value_cell.number_format == '#,##0 "kr"'
        assert ws.freeze_panes is not None and ws.column_dimensions["A"].width >= 30
        goal_header = next(r for r in rows if r[0] == "Indikator")
        assert "Målnivå" in goal_header
        indicators = _rows(wb["Indikatorer"])
        phone = next(r for r in indicators if r[0] == "Telefontillgänglighet samma dag")
        assert phone[7] == pytest.approx(0.9)            # target
    summary = openpyxl.load_workbook(tmp_path / "2025-02" / "region_summary_2025-02.xlsx").active
    rows = _rows(summary)
    total = _find(rows, "Totalt")
    assert total[-1] == pytest.approx(expected["total"].sum(), abs=0.01)
    assert len([r for r in rows if r[0] in OPEN_VCS]) == 3


def test_missing_supporting_marts_degrade_with_a_note(tmp_path):
    warehouse = build_marts_warehouse(tmp_path / "w", supporting=False)
    paths = write_statements(warehouse, "2025-02", tmp_path / "out")
    wb = openpyxl.load_workbook(next(p for p in paths if VC_B in p.name))
    text = " ".join(str(v) for r in _rows(wb["Ersättningsunderlag"]) for v in r if v is not None)
    assert "reimbursement_goals_monthly" in text and "reimbursement_visit_fees_monthly" in text
    expected = query(warehouse, f"select total from marts.reimbursement_monthly where month = '2025-02' "
                                f"and vardcentral_hsa_id = '{VC_B}'").iloc[0, 0]
    assert _find(_rows(wb["Ersättningsunderlag"]), "Summa")[2] == pytest.approx(expected, abs=0.005)
