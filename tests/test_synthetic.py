"""The synthetic region generator: determinism, file shape (SPEC §3), valid identities,
month-to-month consistency and unique ids. Small scales only, so the file runs in seconds."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sources.personnummer import classify
from sources.synthetic import generate_region
from sources.synthetic import months as mo
from sources.synthetic.listing import initial_population
from sources.synthetic.population import PnrAllocator, build_deso, municipality_population
from sources.synthetic.units import build_registry, copies_for
from sources.synthetic.writer import variants

MONTHS = ["2025-01", "2025-02", "2025-03"]
SCALE = 0.02
COLUMNS = {
    "listing": ["personnummer", "vardcentral_hsa_id", "listed_from", "listing_type", "fast_lakare_hsa_id",
                "sabo", "deso"],
    "visits": ["contact_id", "personnummer", "vardcentral_hsa_id", "contact_date", "contact_type", "profession",
               "staff_hsa_id", "status", "new_problem", "first_contact_date", "patient_chose_later"],
    "telephony": ["call_id", "vardcentral_hsa_id", "called_at", "queue", "outcome", "callback_at",
                  "in_opening_hours"],
}
REFERENCE_COLUMNS = {
    "vardcentraler.csv": ["hsa_id", "name", "unit_type", "parent_hsa_id", "owner_type", "provider_name",
                          "municipality_code", "opened_on", "closed_on", "rural_tier", "listing_cap", "cap_from",
                          "cap_to", "valid_from", "valid_to"],
    "cni_areas.csv": ["deso", "year", "cni"],
    "acg_weights.csv": ["personnummer", "year", "acg_weight"],
    "development_grants.csv": ["payout_month", "pot_sek", "hsa_id", "programme", "split"],
    "extra_assignments.csv": ["hsa_id", "assignment", "sek_per_month", "valid_from", "valid_to"],
}
BOOLS = {"1": True, "0": False, "true": True, "false": False, "ja": True, "nej": False}


def read(path: Path) -> pd.DataFrame:
    """Read like the pipeline must: detect xlsx, BOM, encoding and separator."""
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook
        rows = list(load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True))
        return pd.DataFrame(rows[1:], columns=rows[0], dtype=object).replace({None: np.nan})
    raw = path.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else ("utf-8" if _is_utf8(raw) else "cp1252")
    header = raw.split(b"\n", 1)[0]
    sep = ";" if header.count(b";") > header.count(b",") else ","
    return pd.read_csv(path, sep=sep, dtype=str, encoding=encoding, keep_default_na=False, na_values=[""])


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def month_file(landing: Path, month: str, source: str) -> Path:
    [path] = [p for p in (landing / month).glob(f"{source}.*")]
    return path


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("landing")
    summary = generate_region(path, MONTHS, scale=SCALE, seed=7)
    assert summary["reference/vardcentraler.csv"] > 20
    return path


@pytest.fixture(scope="module")
def data(landing):
    return {m: {s: read(month_file(landing, m, s)) for s in COLUMNS} for m in MONTHS}


@pytest.fixture(scope="module")
def units(landing) -> pd.DataFrame:
    return read(landing / "reference" / "vardcentraler.csv")


def test_deterministic_bytes(landing, tmp_path):
    generate_region(tmp_path, MONTHS, scale=SCALE, seed=7)
    files = sorted(p.relative_to(landing) for p in landing.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for rel in files:
        assert (landing / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_month_does_not_depend_on_later_months(landing, tmp_path):
    generate_region(tmp_path, MONTHS[:2], scale=SCALE, seed=7)
    for m in MONTHS[:2]:
        for source in COLUMNS:
            path = month_file(landing, m, source)
            assert path.read_bytes() == (tmp_path / m / path.name).read_bytes()


def test_other_seed_differs(landing, tmp_path):
    generate_region(tmp_path, MONTHS[:1], scale=SCALE, seed=8)
    assert (tmp_path / "2025-01/visits.csv").read_bytes() != month_file(landing, "2025-01", "visits").read_bytes()


def test_layout_and_columns(landing, data):
    for name, columns in REFERENCE_COLUMNS.items():
        assert list(read(landing / "reference" / name).columns) == columns, name
    assert (landing / "reference" / "reimbursement_model.yaml").exists()
    for m in MONTHS:
        for source, columns in COLUMNS.items():
            assert list(data[m][source].columns) == columns, (m, source)
            assert len(data[m][source]) > 0


def test_file_variants_follow_the_month_rule(landing):
    for m in MONTHS:
        var = variants(m, SCALE)
        for source in COLUMNS:
            path = month_file(landing, m, source)
            assert path.suffix == f".{var[source].fmt}"
            if path.suffix == ".csv":
                raw = path.read_bytes()
                assert raw.startswith(b"\xef\xbb\xbf") == var[source].bom
                assert raw.split(b"\n", 1)[0].count(var[source].sep.encode()) == len(COLUMNS[source]) - 1
    assert month_file(landing, "2025-03", "listing").suffix == ".xlsx"
    assert variants("2025-03", 37)["listing"].fmt == "csv"          # large listings never xlsx
    raw = (landing / "reference" / "vardcentraler.csv").read_bytes()
    assert b"\r\n" in raw and "å".encode("cp1252") in raw and not _is_utf8(raw)


def test_registry(units):
    assert re.fullmatch(r"SE2321000180-E\d{12}", units.hsa_id.iloc[0])
    # one row per unit, but the taken-over VC has two: public until the day before, private from it
    history = units[units.hsa_id.duplicated(keep=False)]
    assert len(history) == 2 and list(history.owner_type) == ["offentlig", "privat"]
    assert history.valid_to.iloc[0] < history.valid_from.iloc[1]
    units = units.drop_duplicates("hsa_id", keep="first")
    assert (units.closed_on.notna()).sum() == 1                     # one VC closes inside the range
    counts = units.unit_type.value_counts()
    assert counts["filial"] == 2 and counts["jour"] == 1 and counts["digital"] == 1 and counts["vardcentral"] >= 20
    filials = units[units.unit_type == "filial"]
    assert filials.parent_hsa_id.isin(units.hsa_id[units.unit_type == "vardcentral"]).all()
    assert set(units.municipality_code) >= {"2080", "2081", "2085", "2084", "2062", "2029", "2083", "2082",
                                             "2031", "2061", "2026", "2023", "2039", "2034", "2021"}
    assert (units.owner_type == "privat").sum() == 7
    assert set(units.rural_tier) == {"0", "1", "2", "3"}
    capped = units[units.listing_cap.notna()]
    assert len(capped) == 1 and capped.cap_from.iloc[0] <= capped.cap_to.iloc[0]
    assert (units.opened_on.str[:7] == "2025-03").sum() == 1         # opens inside the range
    assert units.name.str.contains("ä|å|ö").any()


def test_personnummer_valid_and_unique(data):
    for m in MONTHS:
        listing = data[m]["listing"]
        kinds = classify(listing.personnummer)
        assert (kinds.kind == "personnummer").all()
        assert listing.personnummer.str.replace("-", "").is_unique
        visits = classify(data[m]["visits"].personnummer)
        assert not (visits.kind == "invalid").any()
        assert {"personnummer", "samordningsnummer", "reserve"} <= set(visits.kind)


def test_listing_rules(data, units):
    open_vc = units[units.unit_type == "vardcentral"]
    for m in MONTHS:
        listing = data[m]["listing"]
        end = mo.iso(mo.last_day(mo.month_index(m)))
        assert (listing.listed_from <= end).all()
        ok = open_vc[open_vc.opened_on <= end].hsa_id
        assert listing.vardcentral_hsa_id.isin(ok).all()
        assert set(listing.listing_type) == {"aktiv", "passiv"}
        assert listing.sabo.isin(BOOLS).all() and listing.sabo.map(BOOLS).sum() > 10
        assert 0.65 < listing.fast_lakare_hsa_id.notna().mean() < 0.85
        birth = listing.personnummer.str.replace("-", "").str[:8]
        assert (listing.listed_from.str.replace("-", "") >= birth).all()


def test_month_to_month_consistency(data):
    for prev, cur in zip(MONTHS, MONTHS[1:]):
        a = data[prev]["listing"].personnummer.str.replace("-", "")
        b = data[cur]["listing"]
        b_pnr = b.personnummer.str.replace("-", "")
        assert a.isin(b_pnr).mean() > 0.98                              # most persons persist
        newborn = b[b_pnr.str[:6] == cur.replace("-", "")]
        assert len(newborn) > 0 and (newborn.listing_type == "passiv").all()
        merged = pd.DataFrame({"p": a, "u": data[prev]["listing"].vardcentral_hsa_id}).merge(
            pd.DataFrame({"p": b_pnr, "u": b.vardcentral_hsa_id, "t": b.listing_type, "f": b.listed_from}), on="p")
        changed = merged[merged.u_x != merged.u_y]
        assert len(changed) > 0 and (changed.t == "aktiv").all() and (changed.f.str[:7] == cur).all()


def test_ids_unique_across_months(data):
    contacts = pd.concat([data[m]["visits"].contact_id for m in MONTHS])
    calls = pd.concat([data[m]["telephony"].call_id for m in MONTHS])
    assert contacts.is_unique and calls.is_unique


def test_dates_inside_month(data, units):
    for m in MONTHS:
        v, t = data[m]["visits"], data[m]["telephony"]
        assert (v.contact_date.str[:7] == m).all()
        assert v.vardcentral_hsa_id.isin(units.hsa_id).all()
        new = v.new_problem.map(BOOLS)
        assert new.notna().all() and v.patient_chose_later.isin(BOOLS).all()
        assert v.first_contact_date[new].notna().all() and v.first_contact_date[~new].isna().all()
        assert (v.first_contact_date[new] <= v.contact_date[new]).all()
        performing = units.set_index("hsa_id").unit_type[v.vardcentral_hsa_id]
        assert set(performing) == {"vardcentral", "filial", "jour", "digital"}
        assert (t.called_at.str[:7] == m).all() and t.called_at.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
        callback = t.outcome.str.startswith("callback")
        assert t.callback_at[callback].notna().all() and t.callback_at[~callback].isna().all()
        assert (t.callback_at[callback] >= t.called_at[callback]).all()
        assert t.in_opening_hours.map(BOOLS).mean() > 0.7


def test_reference_files(landing, data):
    ref = landing / "reference"
    cni = read(ref / "cni_areas.csv")
    assert set(cni.year) == {"2024", "2025"} and not cni.duplicated(["deso", "year"]).any()
    values = cni.cni.astype(float)
    assert values.between(0.6, 2.5).all() and abs(values.mean() - 1) < 0.05
    listed = data["2025-01"]["listing"]
    assert (~listed.deso.dropna().isin(cni.deso)).any()                 # an "unknown area" shows
    acg = read(ref / "acg_weights.csv")
    pnr = listed.personnummer.str.replace("-", "")
    assert 0.9 < pnr.isin(acg.personnummer).mean() < 0.995             # ~3 % without a weight
    grants = read(ref / "development_grants.csv")
    assert grants.payout_month.nunique() == 1 and len(grants) == 7
    assert grants.groupby("programme").agg(pots=("pot_sek", "nunique"), split=("split", "first"),
                                           n=("hsa_id", "size")).to_dict("index") == {
        "Hälsoinriktat förbättringsarbete": {"pots": 1, "split": "listed", "n": 5},
        "Psykisk hälsa": {"pots": 1, "split": "equal", "n": 2}}
    extra = read(ref / "extra_assignments.csv")
    assert sorted(extra.assignment) == ["KBT", "ST-läkare"] and (extra.valid_to.fillna("") == "").sum() == 1


def test_population_at_scale_one():
    assert municipality_population(1.0).sum() == 286_546
    reg = build_registry(1.0, mo.month_index("2025-01"), 1)
    pop = initial_population(reg, build_deso(1, 1), PnrAllocator(1), mo.month_index("2025-01"), 1)
    assert len(pop) == 286_546
    ages = mo.age_on(pop.birth, mo.day_number("2025-01-01"))
    assert ages.min() == 0 and 100 <= ages.max() <= 106
    assert 40 < ages.mean() < 46 and 0.48 < pop.male.mean() < 0.52
    assert 2_200 < pop.sabo.sum() < 2_800 and np.median(ages[pop.sabo]) >= 80


def test_national_scale_copies_the_region():
    n, per_copy = copies_for(37)
    assert n == 37 and per_copy == pytest.approx(1.0)
    reg = build_registry(37, mo.month_index("2025-01"), 1)
    assert len(reg.hsa) == 37 * 28 and len(set(reg.hsa)) == len(reg.hsa)
    assert municipality_population(per_copy).sum() * n == pytest.approx(10.6e6, rel=0.01)


def test_demo_redeliveries_break_and_correct_a_visits_file(landing, tmp_path):
    """The demo year's deliveries: broken lines (too few fields) and late registrations (new ids),
    each deterministic and keeping the file's separator and encoding."""
    from sources.synthetic.deliveries import add_late_registrations, break_lines

    source = month_file(landing, "2025-02", "visits")   # ';'-separated
    original = read(source)
    for name in ("a", "b"):
        (tmp_path / name / "2025-02").mkdir(parents=True)
        (tmp_path / name / "2025-02" / "visits.csv").write_bytes(source.read_bytes())
    broken = tmp_path / "a" / "2025-02" / "visits.csv"
    n = break_lines(broken, 0.01, seed=7)
    assert n == round(0.01 * len(original))
    fields = [line.count(";") for line in broken.read_text().splitlines()[1:]]
    assert sum(f < len(COLUMNS["visits"]) - 1 for f in fields) == n
    late = tmp_path / "b" / "2025-02" / "visits.csv"
    n_late = add_late_registrations(late, 0.02, seed=7)
    corrected = read(late)
    assert len(corrected) == len(original) + n_late and corrected.contact_id.is_unique
    assert list(corrected.columns) == COLUMNS["visits"]
    again = tmp_path / "c" / "2025-02" / "visits.csv"
    again.parent.mkdir(parents=True)
    again.write_bytes(source.read_bytes())
    add_late_registrations(again, 0.02, seed=7)
    assert again.read_bytes() == late.read_bytes()
