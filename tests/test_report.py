"""The monthly report: HTML with embedded charts and a markdown summary."""
from __future__ import annotations

from orchestration.defs.publication.report import write_report
from tests.marts_fixture import build_marts_warehouse


def test_report_has_charts_and_summary(tmp_path):
    warehouse = build_marts_warehouse(tmp_path / "w")
    result = write_report(warehouse, "2025-02", tmp_path / "reports")
    assert result.html_path == tmp_path / "reports" / "2025-02" / "rapport_2025-02.html"
    html = result.html_path.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == len(result.png_paths) >= 4
    names = [p.name for p in result.png_paths]
    assert "listade_2025-02.png" in names and "ersattning_2025-02.png" in names
    assert "indikator_phone_same_day_share_all_2025-02.png" in names
    assert "indikator_assessment_3d_share_lakare_2025-02.png" in names
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in result.png_paths)
    assert "Listade per vårdcentral" in html and "februari 2025" in html
    assert "| Söderhälsan | 10 |" in result.markdown_summary
    assert "**Regionen** | **31**" in result.markdown_summary
