"""The monthly report: HTML with embedded charts and a markdown summary."""
from __future__ import annotations

import os

import pandas as pd

from orchestration.defs.publication.report import PLAUSIBLE_CHANGE, write_report
from tests.marts_fixture import VC_B, build_marts_warehouse, execute


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


def test_report_shows_each_vc_against_targets_by_sex_with_quality_and_warnings(tmp_path):
    warehouse = build_marts_warehouse(tmp_path / "w")
    # VC B's listed count doubles from January to February: a plausibility warning
    execute(warehouse, f"update marts.reimbursement_monthly set listed_count = listed_count * 2 "
                       f"where month = '2025-02' and vardcentral_hsa_id = '{VC_B}'")
    result = write_report(warehouse, "2025-02", tmp_path / "reports")
    html = result.html_path.read_text(encoding="utf-8")
    assert "Datakvalitet och varningar" in html and "invalid check digit" in html
    assert "Hälsocentralen Älvdalen" in html and f"({VC_B}): antalet listade ändrades" in html and "+1" in html
    assert PLAUSIBLE_CHANGE == 0.5
    assert "Listade utan ACG-vikt" in html                               # exceptions, region-wide
    assert "Ersättning per komponent" in html and "Momskompensation" in html
    # each indicator chart: the region's panel and each VC's, female and male beside all, in its unit
    assert "Värde per månad för alla, kvinnor och män; andel i %." in html
    assert "Kontinuitet läkare (COC)" in html and "index 0–1" in html
    assert "Mål ≥ 90,0 %" in html                                          # a share's target as %
    assert "Fönstret är inte fullt: 2 av 12 månader." in html            # continuity, 2 months of data


def test_indicator_small_multiples_have_a_panel_per_vc(tmp_path):
    from orchestration.defs.publication.report import _load_report_inputs, _panels, _targets_of

    warehouse = build_marts_warehouse(tmp_path / "w")
    inputs = _load_report_inputs(warehouse, "2025-02")
    panels, note = _panels(inputs, "phone_same_day_share", "all", _targets_of(inputs, "phone_same_day_share", "all"))
    assert panels == ["REGION", *sorted(inputs["reimb"]["vardcentral_hsa_id"])] and note == ""


def test_unchanged_report_is_left_untouched(tmp_path):
    warehouse = build_marts_warehouse(tmp_path / "w")
    first = write_report(warehouse, "2025-02", tmp_path / "reports")
    files = [first.html_path, *first.png_paths]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    os.utime(first.html_path.parent, None)
    write_report(warehouse, "2025-02", tmp_path / "reports")
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == before
