"""SPEC §7: the same inputs give identical published content, run after run, machine after machine.

A second region is generated from the same seed in a fresh folder and run from scratch; its
published Parquet (every version and the current files), the open-data CSV and the content
of published.duckdb must equal the `published_region`'s byte for byte. That re-running an
unchanged month creates no new version and rewrites nothing is
`test_pipeline.py::test_rerunning_an_unchanged_month_changes_nothing`.
"""
from __future__ import annotations

import json

from tests.conftest import REGION_MONTHS
from tests.pipeline_fixture import Region, published_db_content, run_ok, tree_digest

VOLATILE_MANIFEST_KEYS = ("published_at", "code_version", "checks")   # when and by what, not what


def published_bytes(region: Region) -> dict[str, str]:
    return {path: sha for path, sha in tree_digest(region.published).items()
            if path.endswith((".parquet", ".csv")) and not path.endswith("payouts.parquet")}  # stamped paid_at


def manifests(region: Region) -> dict[str, dict]:
    return {str(p.relative_to(region.published)): {k: v for k, v in json.loads(p.read_text()).items()
                                                   if k not in VOLATILE_MANIFEST_KEYS}
            for p in sorted(region.published.glob("versions/*/v*/manifest.json"))}


def test_same_months_from_scratch_give_byte_identical_published_files(published_region, tmp_path):
    fresh = Region(tmp_path / "fresh")
    fresh.generate(REGION_MONTHS)                       # same default seed and scale as the fixture
    run_ok(fresh, "run", "--from", REGION_MONTHS[0], "--to", REGION_MONTHS[-1])

    expected = published_bytes(published_region)
    assert any(p.startswith("versions/2025-01/v0001/") for p in expected)
    assert any(p.startswith("indicators_monthly/month=2025-02/") for p in expected)
    assert published_bytes(fresh) == expected
    assert manifests(fresh) == manifests(published_region)     # input checksums, row counts, content hashes
    assert published_db_content(fresh) == published_db_content(published_region)
