"""The monthly report: HTML with embedded charts and a markdown summary."""
from __future__ import annotations

import pandas as pd

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


def test_per_vc_bars_keep_every_unit_of_a_region_and_the_extremes_of_a_nation():
    from orchestration.defs.publication.report import MAX_BARS, SHOWN_AT_EACH_END, _bars_shown

    def units(n: int) -> pd.DataFrame:
        return pd.DataFrame({"vardcentral_hsa_id": [f"SE{i:04d}" for i in range(n)],
                             "listed_count": [(i * 7) % n for i in range(n)]})

    region, caption = _bars_shown(units(MAX_BARS), "listed_count", {"SE0001": "Ett"})
    assert len(region) == MAX_BARS and caption == "" and not region["is_gap"].any()
    assert region["listed_count"].is_monotonic_increasing and "Ett" in set(region["label"])

    n = 851
    nation, caption = _bars_shown(units(n), "listed_count", {})
    assert len(nation) == 2 * SHOWN_AT_EACH_END + 1
    gap = nation[nation["is_gap"]]
    assert list(gap.index) == [SHOWN_AT_EACH_END] and gap["listed_count"].iloc[0] == 0
    assert f"{n - 2 * SHOWN_AT_EACH_END} vårdcentraler" in gap["label"].iloc[0]
    shown = nation[~nation["is_gap"]]["listed_count"].tolist()
    assert shown == list(range(SHOWN_AT_EACH_END)) + list(range(n - SHOWN_AT_EACH_END, n))
    assert f"av {n} vårdcentraler" in caption
