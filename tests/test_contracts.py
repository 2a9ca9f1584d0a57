"""Source contracts: every broken rule quarantines the row with file, line, column and reason."""
from __future__ import annotations

import pandas as pd
import pytest

from sources.reading import SourceFileError
from sources.visits import ACCEPTED_COLUMNS as VISITS_COLUMNS
from tests.source_fixtures import (
    KEY,
    LISTING_HEADER,
    MONTH,
    TELEPHONY_HEADER,
    VISITS_HEADER,
    listing_rows,
    pnr,
    telephony_rows,
    units,
    visits_rows,
    write_csv,
)
from validations.contracts.reference import (
    OPTIONAL_UNIT_COLUMNS,
    UNIT_COLUMNS,
    load_acg_weights,
    load_cni_areas,
    load_development_grants,
    load_units,
)
from validations.intake import read_listing, read_telephony, read_visits


def _findings(result) -> dict[int, dict[str, str]]:
    """{line: {column: reason}} of the quarantine, after checking it names the file."""
    assert set(result.quarantine["source_file"]) <= {result.file.name}
    found: dict[int, dict[str, str]] = {}
    for row in result.quarantine.itertuples():
        found.setdefault(row.source_line, {})[row.column_name] = row.reason
    return found


def _listing(tmp_path, extra_rows):
    write_csv(tmp_path / MONTH / "listing.csv", LISTING_HEADER, listing_rows() + extra_rows)
    return read_listing(tmp_path, MONTH, units(), KEY)


def _visits(tmp_path, extra_rows):
    write_csv(tmp_path / MONTH / "visits.csv", VISITS_HEADER, visits_rows() + extra_rows)
    return read_visits(tmp_path, MONTH, units(), KEY)


def _telephony(tmp_path, extra_rows):
    write_csv(tmp_path / MONTH / "telephony.csv", TELEPHONY_HEADER,
              telephony_rows() + extra_rows)
    return read_telephony(tmp_path, MONTH, units())


def _listing_row(person, **changes):
    row = dict(zip(LISTING_HEADER, [person, "VC1", "2024-01-01", "aktiv", "", "0", ""]))
    return list({**row, **changes}.values())


# --- listing ------------------------------------------------------------------------------

def test_clean_listing_has_no_quarantine(tmp_path):
    result = _listing(tmp_path, [])
    assert len(result.accepted) == 3 and result.quarantine.empty


def test_invalid_personnummer_is_masked_and_explained(tmp_path):
    result = _listing(tmp_path, [
        _listing_row(pnr("19900101", "222", valid=False)),  # line 5: check digit
        _listing_row("19900230-2224"),                       # line 6: 30 February
        _listing_row(pnr("19900161", "222")),                # line 7: samordningsnummer
        _listing_row("R12345"),                              # line 8: reserve number
    ])
    found = _findings(result)
    assert found[5] == {"personnummer": "invalid personnummer: invalid check digit"}
    assert found[6] == {"personnummer": "invalid personnummer: impossible birth date"}
    assert "samordningsnummer" in found[7]["personnummer"]
    assert found[8]["personnummer"].startswith("invalid personnummer: not 12 digits")
    masked = result.quarantine.set_index("source_line")["masked_value"]
    assert masked[5] == "19900101-****" and masked[6] == "19900230-****"
    assert not result.quarantine.astype(str).apply(
        lambda c: c.str.contains("2224")).any().any()       # no raw number anywhere
    assert len(result.accepted) == 3


def test_duplicate_person_quarantines_both_rows(tmp_path):
    twin = listing_rows()[0][0].replace("19850312", "19850312-")  # same person, hyphenated
    result = _listing(tmp_path, [_listing_row(twin, vardcentral_hsa_id="VC1")])
    found = _findings(result)
    assert found[2] == found[5] == {"personnummer": "duplicate person in snapshot"}
    assert result.accepted["source_line"].tolist() == [3, 4]


def test_unparseable_values_and_allowed_values(tmp_path):
    result = _listing(tmp_path, [
        _listing_row(pnr("19900101", "222"), listed_from="2025-13-01", sabo="kanske"),
        _listing_row(pnr("19900101", "232"), listing_type="tillfällig", listed_from=""),
    ])
    found = _findings(result)
    assert found[5] == {"listed_from": "unparseable date '2025-13-01'",
                        "sabo": "unparseable boolean 'kanske' (expected 1/0, true/false or "
                                "ja/nej)"}
    assert found[6] == {"listing_type": "listing_type 'tillfällig' is not one of aktiv, passiv",
                        "listed_from": "missing listed_from"}


def test_listing_unit_must_be_an_open_vardcentral(tmp_path):
    result = _listing(tmp_path, [
        _listing_row(pnr("19900101", "222"), vardcentral_hsa_id="VC9"),
        _listing_row(pnr("19900101", "232"), vardcentral_hsa_id="VC2"),
        _listing_row(pnr("19900101", "242"), vardcentral_hsa_id="VC3"),
        _listing_row(pnr("19900101", "252"), vardcentral_hsa_id="F1"),
        _listing_row(pnr("19900101", "262"), listed_from="2025-04-01"),
    ])
    found = _findings(result)
    assert found[5] == {"vardcentral_hsa_id": "unknown unit"}
    assert found[6] == {"vardcentral_hsa_id": "unit closed on 2025-03-31 (closed_on 2025-02-28)"}
    assert found[7] == {"vardcentral_hsa_id":
                        "unit not yet open on 2025-03-31 (opened_on 2025-04-01)"}
    assert found[8] == {"vardcentral_hsa_id": "unit type filial, expected vardcentral"}
    assert found[9] == {"listed_from": "listed_from 2025-04-01 after the month's last day "
                                       "2025-03-31"}
    assert result.quarantine.set_index("source_line").loc[5, "masked_value"] == "VC9"


# --- visits -------------------------------------------------------------------------------

def _visit(contact_id, **changes):
    row = dict(zip(VISITS_HEADER, [contact_id, pnr("19700101", "333"), "VC1", "2025-03-10",
                                   "besok", "lakare", "", "genomford", "0", "", "0"]))
    return list({**row, **changes}.values())


def test_visits_identity_kinds(tmp_path):
    result = _visits(tmp_path, [])
    accepted = result.accepted.set_index("contact_id")
    assert list(result.accepted.columns) == VISITS_COLUMNS and result.quarantine.empty
    assert accepted["person_id_kind"].tolist() == ["personnummer", "samordningsnummer",
                                                   "reserve"]
    assert accepted.loc["K2", "birth_date"] == pd.Timestamp("1985-03-12")  # day - 60
    assert accepted.loc["K2", "sex"] == "female" and pd.isna(accepted.loc["K3", "sex"])
    assert pd.isna(accepted.loc["K3", "birth_date"])
    assert accepted["person_key"].str.fullmatch(r"[0-9a-f]{64}").all()


def test_visits_rules(tmp_path):
    result = _visits(tmp_path, [
        _visit("K1"),                                                # 5: duplicate of line 2
        _visit("K5", contact_date="2025-04-02"),                     # 6: outside the month
        _visit("K6", personnummer="19700101-3331"),                  # 7: bad check digit
        _visit("K7", new_problem="1"),                               # 8: no first contact
        _visit("K8", new_problem="ja", first_contact_date="2025-03-11"),  # 9: after contact
        _visit("K9", vardcentral_hsa_id="J1", contact_date="2025-03-20"),  # 10: jour closed
        _visit("K10", contact_type="besök", contact_date="2025-3-10"),     # 11
        _visit("K11", personnummer="  RES 17 "),                     # 12: a reserve number
    ])
    found = _findings(result)
    assert found[2] == found[5] == {"contact_id": "duplicate contact_id"}
    assert found[6] == {"contact_date": "contact_date 2025-04-02 outside month 2025-03"}
    assert found[7] == {"personnummer": "invalid personnummer: invalid check digit"}
    assert found[8] == {"first_contact_date":
                        "first_contact_date missing for a new_problem contact"}
    assert found[9] == {"first_contact_date":
                        "first_contact_date 2025-03-11 after contact_date 2025-03-10"}
    assert found[10] == {"vardcentral_hsa_id": "unit closed on 2025-03-20 (closed_on 2025-03-14)"}
    assert found[11] == {"contact_type": "contact_type 'besök' is not one of besok, hembesok, "
                                         "telefon, video, chatt",
                         "contact_date": "unparseable date '2025-3-10'"}
    assert result.accepted["contact_id"].tolist() == ["K2", "K3", "K11"]
    assert result.quarantine.set_index("source_line").loc[7, "masked_value"] == "19700101-****"


# --- telephony ----------------------------------------------------------------------------

def _call(call_id, **changes):
    row = dict(zip(TELEPHONY_HEADER, [call_id, "VC1", "2025-03-10 10:00:00", "tidsbokning",
                                      "answered", "", "1"]))
    return list({**row, **changes}.values())


def test_telephony_rules(tmp_path):
    result = _telephony(tmp_path, [
        _call("C1"),                                                           # 5: duplicate
        _call("C5", outcome="callback_done", callback_at="2025-03-10 09:59:00"),  # 6
        _call("C6", outcome="callback_no_answer"),                             # 7
        _call("C7", called_at="2025-04-01 00:00:00"),                          # 8
        _call("C8", called_at="2025-03-10 25:00"),                             # 9
        _call("C9", vardcentral_hsa_id="VC3"),                                 # 10
        _call("C10", in_opening_hours="yes"),                                  # 11
    ])
    found = _findings(result)
    assert found[2] == found[5] == {"call_id": "duplicate call_id"}
    assert found[6] == {"callback_at": "callback_at 2025-03-10 09:59:00 before called_at "
                                       "2025-03-10 10:00:00"}
    assert found[7] == {"callback_at": "callback_at missing for outcome callback_no_answer"}
    assert found[8] == {"called_at": "called_at 2025-04-01 00:00:00 outside month 2025-03"}
    assert found[9] == {"called_at": "unparseable timestamp '2025-03-10 25:00'"}
    assert found[10] == {"vardcentral_hsa_id":
                         "unit not yet open on 2025-03-10 (opened_on 2025-04-01)"}
    assert "in_opening_hours" in found[11]
    assert result.accepted["call_id"].tolist() == ["C2", "C3"]
    assert result.accepted["called_at"].iloc[0] == pd.Timestamp("2025-03-03 09:15")


# --- reference ----------------------------------------------------------------------------

def _units_csv(tmp_path, rows):
    header = UNIT_COLUMNS
    base = ["VC1", "Vårdcentralen", "vardcentral", "", "offentlig", "Regionen", "0180",
            "2020-01-01", "", "0", "", "", ""]
    lines = [base] + [list({**dict(zip(header, base)), **r}.values()) for r in rows]
    return write_csv(tmp_path / "reference" / "vardcentraler.csv", header, lines,
                     encoding="cp1252")


def test_load_units_is_typed(tmp_path):
    path = _units_csv(tmp_path, [{"hsa_id": "F1", "unit_type": "filial", "parent_hsa_id": "VC1",
                                  "listing_cap": "12000", "cap_from": "2025-01-01",
                                  "cap_to": "2025-12-31", "rural_tier": "2"}])
    units_ = load_units(path)
    assert list(units_.columns) == UNIT_COLUMNS + OPTIONAL_UNIT_COLUMNS and units_["name"][0] == "Vårdcentralen"
    assert units_["valid_from"].isna().all() and units_["vat_compensation_pct"].isna().all()
    assert units_["opened_on"].dtype.kind == "M" and units_["rural_tier"].tolist() == [0, 2]
    assert units_["listing_cap"].tolist()[1] == 12000


def test_load_units_errors_name_line_and_column(tmp_path):
    path = _units_csv(tmp_path, [
        {"hsa_id": "F1", "unit_type": "filial", "parent_hsa_id": "VC9"},
        {"hsa_id": "VC4", "rural_tier": "4", "opened_on": "2020-02-30"},
        {"hsa_id": "VC5", "owner_type": "kommunal", "listing_cap": "12 000"},
    ])
    with pytest.raises(SourceFileError) as err:
        load_units(path)
    message = str(err.value)
    assert message.startswith("vardcentraler.csv: 3 invalid rows")
    assert "line 3, column parent_hsa_id: parent_hsa_id is not a unit in the registry" in message
    assert "line 4, column rural_tier: rural_tier 4 is not 0, 1, 2 or 3" in message
    assert "line 4, column opened_on: unparseable date '2020-02-30'" in message
    assert "line 5, column owner_type: owner_type 'kommunal' is not one of" in message
    assert "line 5, column listing_cap: unparseable integer '12 000'" in message


@pytest.mark.parametrize("cap,reason", [
    ("100000000000000000000000", "integer '100000000000000000000000' out of range"),
    ("1e23", "unparseable integer '1e23'"),
    ("2000000", "listing_cap 2000000 outside 0–1,000,000"),
])
def test_an_absurd_listing_cap_names_file_line_and_column(tmp_path, cap, reason):
    path = _units_csv(tmp_path, [{"hsa_id": "VC4"}, {"hsa_id": "VC5", "listing_cap": cap}])
    with pytest.raises(SourceFileError) as err:
        load_units(path)
    assert str(err.value).startswith(f"vardcentraler.csv: 1 invalid row, first line 4, column "
                                     f"listing_cap: {reason}")


def test_an_implausible_acg_weight_names_file_line_and_column(tmp_path):
    rows = [[pnr("19850312", f"{i:03d}"), "2024", "1.2"] for i in range(1, 5)]
    rows[3][2] = "100000000000000000000"  # 1e20
    path = write_csv(tmp_path / "acg_weights.csv", ["personnummer", "year", "acg_weight"], rows)
    with pytest.raises(SourceFileError) as err:
        load_acg_weights(path, KEY)
    assert str(err.value).startswith("acg_weights.csv: 1 invalid row, first line 5, column "
                                     "acg_weight: acg_weight 100000000000000000000 outside the plausible "
                                     "range 0–100")


def test_a_reference_line_that_cannot_be_split_stops_the_load(tmp_path):
    # a registry row is never dropped silently: a cut line or a quote left open names its line
    path = _units_csv(tmp_path, [{"hsa_id": "VC4"}, {"hsa_id": '"VC5'}, {"hsa_id": "VC6"}])
    with pytest.raises(SourceFileError) as err:
        load_units(path)
    assert str(err.value).startswith("vardcentraler.csv: 1 invalid row, first line 4, column hsa_id: "
                                     "unclosed quote in field 1 (hsa_id) at character 1")
    path.write_bytes(path.read_bytes() + b"VC7;Cut VC;vardcentral\n\n")
    with pytest.raises(SourceFileError, match=r"(?s)2 invalid rows.*line 6: truncated line: 3 of 13 fields"):
        load_units(path)
def _history_csv(tmp_path, rows):
    """vardcentraler.csv with the optional history columns (rows: dicts over the base VC)."""
    header = UNIT_COLUMNS + ["valid_from", "valid_to", "provider_org_number"]
    base = dict(zip(header, ["VC1", "Vårdcentralen", "vardcentral", "", "offentlig", "Regionen", "0180",
                             "2020-01-01", "", "0", "", "", "", "", "", ""]))
    lines = [list({**base, **r}.values()) for r in rows]
    return write_csv(tmp_path / "reference" / "vardcentraler.csv", header, lines)


def test_registry_accepts_blank_vc_only_fields_on_other_unit_types(tmp_path):
    # SPEC §3.5: rural_tier, listing_cap, cap_from, cap_to concern VCs only
    path = _history_csv(tmp_path, [
        {}, {"hsa_id": "F1", "unit_type": "filial", "parent_hsa_id": "VC1", "rural_tier": ""},
        {"hsa_id": "J1", "unit_type": "jour", "rural_tier": ""},
        {"hsa_id": "D1", "unit_type": "digital", "rural_tier": ""}])
    units_ = load_units(path)
    assert units_.set_index("hsa_id")["rural_tier"].isna().to_dict() == {
        "VC1": False, "F1": True, "J1": True, "D1": True}
    # a VC still needs its tier (it pays geography)
    with pytest.raises(SourceFileError, match="line 3, column rural_tier: missing rural_tier for a vardcentral"):
        load_units(_history_csv(tmp_path, [{}, {"hsa_id": "VC2", "rural_tier": ""}]))


def test_registry_history_rows_and_the_month_they_apply_to(tmp_path):
    from sources.registry_history import units_in_month

    path = _history_csv(tmp_path, [
        {"valid_to": "2025-05-31"},
        {"valid_from": "2025-06-01", "owner_type": "privat", "provider_name": "Ny Vård AB",
         "provider_org_number": "556000-0001", "rural_tier": "2"},
        {"hsa_id": "VC2", "valid_to": "2025-03-31"}])      # not in the registry from April
    units_ = load_units(path)
    assert len(units_) == 3 and units_["provider_org_number"].tolist()[1] == "556000-0001"
    may, june = units_in_month(units_, "2025-05"), units_in_month(units_, "2025-06")
    assert may.set_index("hsa_id")["owner_type"].to_dict() == {"VC1": "offentlig"}
    assert june.set_index("hsa_id")[["owner_type", "rural_tier"]].to_dict("index") == {
        "VC1": {"owner_type": "privat", "rural_tier": 2}}
    assert set(units_in_month(units_, "2025-03")["hsa_id"]) == {"VC1", "VC2"}


def test_registry_rows_of_one_unit_that_overlap_name_both_lines(tmp_path):
    path = _history_csv(tmp_path, [
        {"valid_to": "2025-06-30"}, {"hsa_id": "VC2"},
        {"valid_from": "2025-06-01", "owner_type": "privat"}])
    with pytest.raises(SourceFileError) as err:
        load_units(path)
    message = str(err.value)
    assert message.startswith("vardcentraler.csv: 1 invalid row, first line 4, column valid_from: "
                              "rows of unit VC1 overlap: line 2 (open..2025-06-30) and line 4 (2025-06-01..open)")


def test_listing_uses_the_registry_row_valid_on_the_months_last_day(tmp_path):
    units_ = load_units(_history_csv(tmp_path, [
        {"hsa_id": "SE001", "valid_to": "2025-03-30"},
        {"hsa_id": "SE001", "valid_from": "2025-03-31", "unit_type": "jour"},
        {"hsa_id": "SE002", "valid_to": "2025-03-30"}]))
    # MONTH is 2025-03: on its last day SE001's row is a jour, SE002 has no row
    rows = [row[:1] + [vc] + row[2:] for row, vc in zip(listing_rows(), ["SE001", "SE002"])]
    write_csv(tmp_path / "landing" / MONTH / "listing.csv", LISTING_HEADER, rows)
    result = read_listing(tmp_path / "landing", MONTH, units_, KEY)
    reasons = dict(zip(result.quarantine["source_line"], result.quarantine["reason"]))
    assert reasons == {2: "unit type jour, expected vardcentral", 3: "unknown unit"}


def test_load_cni_and_grants(tmp_path):
    cni = write_csv(tmp_path / "cni_areas.csv", ["deso", "year", "cni"],
                    [["0180C1010", "2024", "1,25"], ["0180C1020", "2024", "0.8"]])
    assert load_cni_areas(cni)["cni"].tolist() == [1.25, 0.8]
    bad = write_csv(tmp_path / "bad.csv", ["deso", "year", "cni"], [["0180C1010", "x", "1"]])
    with pytest.raises(SourceFileError, match="(?s)bad.csv.*line 2, column year: unparseable "
                                              "integer 'x'"):
        load_cni_areas(bad)
    assert load_development_grants(tmp_path / "absent.csv").empty
    grants = write_csv(tmp_path / "grants.csv", ["payout_month", "pot_sek", "hsa_id"],
                       [["2025-06", "1000000", "VC1"], ["2025-06", "1000000", "VC2"]])
    assert load_development_grants(grants)["pot_sek"].sum() == 2_000_000


def test_load_acg_weights_pseudonymises(tmp_path):
    assert list(load_acg_weights(tmp_path / "absent.csv", KEY).columns) == [
        "person_key", "year", "acg_weight"]
    path = write_csv(tmp_path / "acg.csv", ["personnummer", "year", "acg_weight"],
                     [[pnr("19850312", "123"), "2024", "1.4"],
                      [pnr("19850372", "124", hyphen=True), "2024", "0.6"]])
    weights = load_acg_weights(path, KEY)
    assert weights["person_key"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert "personnummer" not in weights.columns
    bad = write_csv(tmp_path / "acg_bad.csv", ["personnummer", "year", "acg_weight"],
                    [["19850312-1235", "2024", "1.4"]])
    with pytest.raises(SourceFileError) as err:
        load_acg_weights(bad, KEY)
    assert "line 2, column personnummer: invalid personnummer" in str(err.value)
    assert "19850312-****" in str(err.value) and "1235" not in str(err.value)


def test_acg_weights_read_in_parts_find_bad_identities_and_repeats_across_parts(tmp_path, monkeypatch):
    # A national file is classified and pseudonymised in parts; what a part finds, and a
    # person-year repeated in another part (written with a hyphen there), still reaches the
    # one error, with the lines of the whole file.
    import validations.contracts.reference as reference

    monkeypatch.setattr(reference, "ACG_PART_ROWS", 2)
    header = ["personnummer", "year", "acg_weight"]
    good = [[pnr("19850312", "123"), "2024", "1.4"], [pnr("19850312", "123"), "2025", "1.1"],
            [pnr("19900101", "456"), "2024", "0.6"], [pnr("19420707", "789"), "2024", "2.0"],
            [pnr("20010228", "234"), "2024", "0.3"]]
    weights = load_acg_weights(write_csv(tmp_path / "acg.csv", header, good), KEY)
    assert len(weights) == 5 and weights["person_key"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert weights["person_key"].iloc[0] == weights["person_key"].iloc[1]   # one person, two years
    assert weights["year"].tolist() == [2024, 2025, 2024, 2024, 2024]
    assert weights["acg_weight"].tolist() == [1.4, 1.1, 0.6, 2.0, 0.3]

    bad = good + [["19850312-1235", "2024", "1.0"],                           # line 7, part 3
                  [pnr("19900101", "456", hyphen=True), "2024", "0.9"]]       # line 8 repeats line 4
    with pytest.raises(SourceFileError) as err:
        load_acg_weights(write_csv(tmp_path / "acg_bad.csv", header, bad), KEY)
    message = str(err.value)
    assert "line 7, column personnummer: invalid personnummer" in message
    assert "line 4, column personnummer: duplicate personnummer and year" in message
    assert "line 8, column personnummer: duplicate personnummer and year" in message
    assert "line 2," not in message and "line 3," not in message   # one person in two years is fine


@pytest.mark.parametrize("dtype", ["str", object])
def test_a_large_column_finds_every_copy_of_a_repeat_and_never_a_missing_value(dtype):
    # Above _COUNTED_IN_DUCKDB_FROM values DuckDB first tells whether anything repeats.
    from validations.contracts import _COUNTED_IN_DUCKDB_FROM, Findings, check_unique

    n = _COUNTED_IN_DUCKDB_FROM + 10
    values = [f"K{i:09d}" for i in range(n)]
    values[7], values[8] = None, None                  # missing twice: not a repeat
    clean = pd.Series(values, dtype=dtype, index=pd.RangeIndex(2, n + 2, name="source_line"))
    findings = Findings(clean.to_frame("contact_id"))
    check_unique(findings, clean, "contact_id", "duplicate contact_id")
    assert findings.frame().empty

    values[n - 1] = values[3]                          # lines 5 and n + 1
    repeated = pd.Series(values, dtype=dtype, index=clean.index)
    findings = Findings(repeated.to_frame("contact_id"))
    check_unique(findings, repeated, "contact_id", "duplicate contact_id")
    assert sorted(findings.frame()["source_line"]) == [5, n + 1]
