"""The workbooks as printed: LibreOffice headless → PDF (scripts/render_check.py). Slow; skips
without LibreOffice and poppler-utils. The page set-up itself is asserted with openpyxl in
tests/test_statements.py (fast suite)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import openpyxl
import pytest

from orchestration.defs.publication.statements import write_statements
from tests.marts_fixture import VC_B, build_marts_warehouse

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "render_check.py"


def _render_check():
    spec = importlib.util.spec_from_file_location("render_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render_check = _render_check()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(render_check.missing_tools()),
                                 reason=f"needs {', '.join(render_check.missing_tools())} (LibreOffice, poppler-utils)")]


def test_statement_prints_on_at_most_five_pages_and_the_region_summary_on_one(tmp_path):
    warehouse = build_marts_warehouse(tmp_path / "w")
    write_statements(warehouse, "2025-02", tmp_path / "out")
    folder = tmp_path / "out" / "2025-02"
    assert render_check.render_check(folder, tmp_path / "pdf", vc=VC_B) == []
    statement_pdf = tmp_path / "pdf" / f"ersattningsunderlag_2025-02_{VC_B}.pdf"
    assert 1 <= render_check.page_count(statement_pdf) <= render_check.MAX_STATEMENT_PAGES
    first = render_check.page_texts(statement_pdf)[0]
    assert "Kapitering" in first and "Momskompensation" in first and "Summa" in first and "Sida 1 av" in first


def test_the_check_finds_hashes_and_a_summary_over_two_pages(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "Regionsammanställning · test"
    ws["A2"] = 123456789.0
    ws["A2"].number_format = '#,##0 "kr"'
    ws.column_dimensions["A"].width = 4
    ws.oddHeader.left.text = "Regionsammanställning · test"
    for row in range(3, 140):      # two portrait pages, not fitted
        ws.cell(row=row, column=1, value=row)
    wb.save(tmp_path / "region_summary_2025-02.xlsx")
    problems = render_check.check_region(render_check.to_pdf(tmp_path / "region_summary_2025-02.xlsx", tmp_path))
    assert any("###" in p for p in problems) and any("not 1" in p for p in problems)
