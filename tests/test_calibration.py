"""The demo region against the seed material's figures (Region Dalarna): docs/calibration.md.
Shares are checked on a small region over a year (they do not depend on the scale); the sizes of
the named VCs and doctor continuity (which depends on how many doctors a VC has, so on the scale)
on the first four months of the region at scale 1. Figures come from the generated landing files,
computed here independently of the pipeline."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sources.synthetic import generate_region
from sources.synthetic import months as mo
from sources.synthetic.units import unit_hsa
from tests.test_synthetic import month_file, read

YEAR = mo.month_range("2025-01", "2026-01")
SEED = 20250101

# (unit number, listed in December 2022 per the seed material); demo figure: the first month
LISTED = {123: 2127, 113: 21593, 111: 5302}
OPENED = {102: "2010-08", 106: "2010-08", 111: "2012-02", 112: "2012-04", 109: "2012-09", 103: "2022-09"}


@pytest.fixture(scope="module")
def year(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("calibration_year")
    generate_region(path, YEAR, scale=0.04, seed=SEED)
    return path


@pytest.fixture(scope="module")
def listing_end(year) -> pd.DataFrame:
    return read(month_file(year, YEAR[-1], "listing"))


@pytest.fixture(scope="module")
def full_size(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("calibration_scale_1")
    generate_region(path, YEAR[:4], scale=1.0, seed=SEED)
    return path


def test_named_vcs_listed_as_in_the_seed_figures(full_size):
    counts = read(month_file(full_size, YEAR[0], "listing"))["vardcentral_hsa_id"].value_counts()
    for no, seed_figure in LISTED.items():
        assert counts[unit_hsa(0, no)] == pytest.approx(seed_figure, rel=0.03), no


def test_private_vcs_opened_as_in_the_seed_figures(year):
    units = read(year / "reference" / "vardcentraler.csv").drop_duplicates("hsa_id")
    opened = dict(zip(units["hsa_id"], units["opened_on"].str[:7]))
    assert {no: opened[unit_hsa(0, no)] for no in OPENED} == OPENED


def test_fifteen_municipalities(year):
    units = read(year / "reference" / "vardcentraler.csv")
    assert units["municipality_code"].nunique() == 15


def test_named_gp_shares(listing_end):
    fl = listing_end["fast_lakare_hsa_id"].notna()
    sabo = listing_end["sabo"].isin(["1", "true", "ja", True])
    assert fl.mean() == pytest.approx(0.79, abs=0.03)
    assert fl[sabo].mean() == pytest.approx(0.96, abs=0.03)


def _contacts(landing: Path, month_list: list[str]) -> pd.DataFrame:
    frames = [read(month_file(landing, m, "visits"))[["personnummer", "vardcentral_hsa_id", "profession",
                                                      "staff_hsa_id"]] for m in month_list]
    return pd.concat(frames, ignore_index=True)


def test_doctor_continuity(full_size):
    """Mean COC (Bice-Boxerman) of doctor contacts over four months, persons with two or more."""
    contacts = _contacts(full_size, YEAR[:4])
    doctor = contacts[(contacts["profession"] == "lakare") & contacts["staff_hsa_id"].notna()]
    per_staff = doctor.groupby(["personnummer", "staff_hsa_id"]).size()
    n = per_staff.groupby(level=0).sum()
    squares = (per_staff ** 2).groupby(level=0).sum()
    coc = ((squares - n) / (n * (n - 1)))[n >= 2]
    assert coc.mean() == pytest.approx(0.27, abs=0.04)


def test_women_have_more_contacts_than_men(year, listing_end):
    contacts = _contacts(year, YEAR[1:])
    pnr = listing_end["personnummer"].str.replace("-", "")
    male = pnr.str[10].astype(int) % 2 == 1
    per_person = contacts["personnummer"].str.replace("-", "").value_counts()
    rate = per_person.reindex(pnr).fillna(0).to_numpy()
    ratio = rate[~male.to_numpy()].mean() / rate[male.to_numpy()].mean()
    assert 1.15 <= ratio <= 1.40, ratio


def test_a_few_persons_relist_over_the_limit(year):
    """More than two active changes of VC within 12 months (SPEC §5): a few per 10 000."""
    units = {}
    changes = pd.Series(dtype=int)
    for m in YEAR:
        listing = read(month_file(year, m, "listing"))
        now = dict(zip(listing["personnummer"].str.replace("-", ""), listing["vardcentral_hsa_id"]))
        moved = [p for p, u in now.items() if p in units and units[p] != u]
        changes = changes.add(pd.Series(1, index=moved), fill_value=0)
        units = now
    over = int((changes > 2).sum())
    assert 1 <= over <= 0.002 * len(units), over


def test_goals_are_met_by_some_vcs_and_not_by_others():
    """The generated per-VC levels straddle the model's all-or-nothing phone goal."""
    from sources.reimbursement_model import load_model
    from sources.synthetic.reference import DEFAULT_MODEL
    from sources.synthetic.units import build_registry

    reg = build_registry(0.04, mo.month_index(YEAR[0]), SEED)
    for version in load_model(DEFAULT_MODEL).versions:
        [goal] = [g for g in version.goals if g.indicator == "phone_same_day_share"]
        vc = reg.same_day[reg.is_vc]
        assert (vc >= goal.high + 0.01).any() and (vc < goal.high - 0.01).any()
