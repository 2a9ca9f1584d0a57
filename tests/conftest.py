"""Shared fixtures. `published_region`: two synthetic months run once through the real pipeline."""
from __future__ import annotations

import pytest

from tests.pipeline_fixture import Region, run_ok

REGION_MONTHS = ["2025-01", "2025-02"]


@pytest.fixture(scope="session")
def published_region(tmp_path_factory) -> Region:
    """Read-only for tests: copy it (`region.copy(tmp_path / 'r')`) before changing anything."""
    region = Region(tmp_path_factory.mktemp("published_region"))
    region.generate(REGION_MONTHS)
    run_ok(region, "run", "--from", REGION_MONTHS[0], "--to", REGION_MONTHS[-1])
    return region
