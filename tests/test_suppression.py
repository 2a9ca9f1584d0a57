"""Complementary suppression of the open-data export (SPEC §7): the pure function, cell by cell."""
from __future__ import annotations

import pandas as pd

from orchestration.defs.publication.suppression import complementary_suppression

MIN_CELL = 20


def _cells(*rows) -> pd.DataFrame:
    """(vc, code, sex, profession, numerator, denominator) -> cells as the mart has them: a
    count has no denominator; suppressed below MIN_CELL (counts: 1..MIN_CELL-1)."""
    frame = pd.DataFrame(rows, columns=["vardcentral_hsa_id", "indicator_code", "sex", "profession",
                                        "numerator", "denominator"])
    frame["numerator"] = frame["numerator"].astype("float64")
    frame["denominator"] = frame["denominator"].astype("Float64")
    count = frame["denominator"].isna()
    frame["value"] = frame["numerator"].where(count, frame["numerator"] / frame["denominator"].astype(float))
    frame["is_suppressed"] = (count & frame["numerator"].between(1, MIN_CELL - 1)) | (
        ~count & (frame["denominator"].fillna(0) < MIN_CELL))
    return frame.assign(month="2025-02")


def _suppressed(cells: pd.DataFrame) -> set[tuple]:
    hit = complementary_suppression(cells)
    return set(cells.loc[hit.to_numpy(), ["vardcentral_hsa_id", "sex", "profession"]].itertuples(index=False,
                                                                                                  name=None))


def test_a_lonely_suppressed_male_cell_takes_female_with_it():
    # REGION, assessment within 3 days, barnmorska: all 60/76, female 54/69, male 6/7
    cells = _cells(("REGION", "assessment_3d", "all", "barnmorska", 60, 76),
                   ("REGION", "assessment_3d", "female", "barnmorska", 54, 69),
                   ("REGION", "assessment_3d", "male", "barnmorska", 6, 7))
    assert _suppressed(cells) == {("REGION", "male", "barnmorska"), ("REGION", "female", "barnmorska")}


def test_the_smallest_other_profession_by_denominator_ties_by_code():
    cells = _cells(("VC1", "share", "all", "all", 200, 300),
                   ("VC1", "share", "all", "lakare", 100, 200),
                   ("VC1", "share", "all", "psykolog", 5, 8),
                   ("VC1", "share", "all", "kurator", 24, 25),     # smallest, tied with dietist
                   ("VC1", "share", "all", "dietist", 3, 25),
                   ("VC1", "share", "all", "sjukskoterska", 20, 40))
    assert _suppressed(cells) == {("VC1", "all", "psykolog"), ("VC1", "all", "dietist")}


def test_counts_by_value_and_a_null_count_never_chosen():
    cells = _cells(("REGION", "ended", "all", "all", 93, None),
                   ("VC1", "ended", "all", "all", 3, None),          # suppressed
                   ("VC2", "ended", "all", "all", 40, None),
                   ("VC3", "ended", "all", "all", 25, None),
                   ("VC4", "ended", "all", "all", None, None))       # no value: never chosen
    assert _suppressed(cells) == {("VC1", "all", "all"), ("VC3", "all", "all")}
    # a zero count is a value like any other: the smallest
    cells = _cells(*[*cells.iloc[:, :6].itertuples(index=False, name=None), ("VC5", "ended", "all", "all", 0, None)])
    assert _suppressed(cells) == {("VC1", "all", "all"), ("VC5", "all", "all")}


def test_suppression_repeats_across_groups_until_no_group_has_one():
    # VC1 female alone -> VC1 male; VC1 male alone among the VCs' males -> VC2 male (smaller
    # than VC3's); VC2 male alone in VC2 -> VC2 female; then every group has 0 or 2+.
    rows = []
    for vc, (f, m) in {"VC1": ((10, 15), (30, 40)), "VC2": ((50, 60), (25, 30)), "VC3": ((70, 80), (50, 60))}.items():
        rows += [(vc, "share", "all", "all", f[0] + m[0], f[1] + m[1]),
                 (vc, "share", "female", "all", *f), (vc, "share", "male", "all", *m)]
    rows += [("REGION", "share", sex, "all", 0, 0) for sex in ("all", "female", "male")]
    cells = _cells(*rows)
    cells.loc[cells["vardcentral_hsa_id"] == "REGION", ["numerator", "denominator", "value", "is_suppressed"]] = [
        [235, 285, 235 / 285, False], [130, 155, 130 / 155, False], [105, 130, 105 / 130, False]]
    assert _suppressed(cells) == {("VC1", "female", "all"), ("VC1", "male", "all"),
                                  ("VC2", "male", "all"), ("VC2", "female", "all")}


def test_a_suppressed_total_does_not_matter_and_two_suppressed_need_nothing():
    cells = _cells(("VC1", "share", "all", "all", 10, 19),          # the total, suppressed
                   ("VC1", "share", "female", "all", 8, 12),
                   ("VC1", "share", "male", "all", 2, 7))
    assert _suppressed(cells) == {("VC1", "all", "all"), ("VC1", "female", "all"), ("VC1", "male", "all")}
    cells = _cells(("VC1", "share", "all", "lakare", 10, 19), ("VC1", "share", "all", "kurator", 2, 7),
                   ("VC1", "share", "all", "psykolog", 30, 40))
    assert _suppressed(cells) == {("VC1", "all", "lakare"), ("VC1", "all", "kurator")}


def test_listed_per_named_gp_is_in_no_group_and_a_lonely_cell_without_choice_stays():
    cells = _cells(("VC1", "listed_per_named_gp", "female", "all", 5, 6),
                   ("VC1", "listed_per_named_gp", "male", "all", 500, 600),
                   ("VC1", "ended", "female", "all", 4, None),
                   ("VC1", "ended", "male", "all", None, None))
    # the named-GP female cell stays alone; the 'ended' female count's only partner has no value
    assert complementary_suppression(cells).tolist() == [True, False, True, False]


def test_months_are_separate_groups_and_the_input_is_not_changed():
    one = _cells(("VC1", "share", "female", "all", 5, 6), ("VC1", "share", "male", "all", 50, 60))
    other = one.assign(month="2025-03", numerator=[50, 5], denominator=pd.array([60, 600], dtype="Float64"),
                       is_suppressed=[False, False])
    cells = pd.concat([one, other], ignore_index=True)
    before = cells.copy()
    assert complementary_suppression(cells).tolist() == [True, True, False, False]
    pd.testing.assert_frame_equal(cells, before)
