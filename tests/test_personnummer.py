"""`classify`'s vectorised paths give what `_classify_general`, which defines the semantics, gives."""
from __future__ import annotations

import pandas as pd
import pytest

from sources.personnummer import _classify_general, classify

VALID = ["198503120001", "200002290005", "197001019871", "198503720008"]   # the last: coordination
INVALID = ["198503120000", "190002290005", "198513010002"]                  # check digit, 29 Feb 1900, month 13
OTHER = [" 198503120001", "19850312-0001 ", "8503120007", "", None, "x", "１９８５０３１２０００１"]


def _as_records(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)]


@pytest.mark.parametrize("values", [
    VALID + INVALID,                                        # one width, nothing else: all clean
    [f"{v[:8]}-{v[8:]}" for v in VALID + INVALID],          # written with the hyphen
    VALID + INVALID + [f"{v[:8]}-{v[8:]}" for v in VALID],  # both ways in one delivery
    VALID + INVALID + OTHER,                                # clean and otherwise
    VALID + INVALID + ["19850312000x"],                     # one width, not all digits
    [f"{v[:8]}-{v[8:]}" for v in VALID + INVALID] + ["198503120-001", "19850312-000x"],
], ids=["twelve", "hyphen", "mixed-widths", "with-other", "twelve-not-digits", "hyphen-misplaced"])
def test_classify_equals_the_general_rules(values):
    series = pd.Series(values, dtype="str", index=pd.RangeIndex(2, len(values) + 2))
    fast, general = classify(series), _classify_general(series)
    assert list(fast.columns) == list(general.columns)
    assert fast.index.equals(series.index)
    assert _as_records(fast) == _as_records(general)
    # every case starts with VALID then INVALID: the cases exercise what they are named for
    assert fast["kind"].iloc[:4].tolist() == ["personnummer"] * 3 + ["samordningsnummer"]
    assert fast["invalid_reason"].iloc[4:7].tolist() == [
        "invalid check digit", "impossible birth date", "impossible birth date"]
