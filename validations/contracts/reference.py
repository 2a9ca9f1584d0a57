"""Reference data (SPEC §3.5): the unit registry, CNI per area, ACG weights, development grants,
extra assignments (tilläggsuppdrag).

`<landing>/reference/vardcentraler.csv` and `cni_areas.csv` are required; `acg_weights.csv`,
`development_grants.csv` and `extra_assignments.csv` are optional (absent: an empty frame). They are the region's
configuration, so any bad row is a `SourceFileError` listing file, line, column and reason
(a personnummer masked): the month cannot be computed on a half-read registry. Frames come
back typed like their `raw.*` tables (dates as datetime64, integers as int64/Int64); the ACG
file's personnummer is replaced by `person_key` here and not kept.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from core import vocabulary
from sources.personnummer import PERSONNUMMER, SAMORDNINGSNUMMER, classify
from sources.pseudonym import pseudonymise_repeated_column
from sources.reading import RawTable, SourceFileError, read_table
from validations.contracts import VALUE, Findings, allowed, lower, may_repeat, parse_dates, parse_numbers, run_schema

UNIT_COLUMNS = ["hsa_id", "name", "unit_type", "parent_hsa_id", "owner_type", "provider_name",
                "municipality_code", "opened_on", "closed_on", "rural_tier", "listing_cap",
                "cap_from", "cap_to"]
# SPEC §3.5: optional; without valid_from/valid_to a unit's one row is valid always.
OPTIONAL_UNIT_COLUMNS = ["valid_from", "valid_to", "vat_compensation_pct", "provider_org_number"]
UNIT_TYPES = vocabulary.UNIT_TYPES
OWNER_TYPES = vocabulary.OWNER_TYPES
# Filled in for units of type vardcentral only (SPEC §3.5); other types may leave them empty.
VARDCENTRAL_ONLY_COLUMNS = ("rural_tier", "listing_cap", "cap_from", "cap_to", "vat_compensation_pct")
MAX_VAT_COMPENSATION_PCT = 25.0
GRANT_SPLITS = ("listed", "equal")
MAX_LISTED = 20  # findings shown in one error message
# Plausible ranges (docs/decisions.md): a value outside is a typo or a unit mix-up, refused
# on load with its line rather than paid out and caught, if at all, at a VC's gate check.
MAX_LISTING_CAP = 1_000_000
MAX_ACG_WEIGHT = 100.0


def _raise_if_any(findings: Findings, table: RawTable) -> None:
    """Every finding, and every line the reader could not split into fields (a reference row
    is never dropped silently; a blank line holds no row and is not an error here)."""
    name = table.file.name
    unsplit = table.bad_lines[table.bad_lines["reason"] != "empty line"]
    found = findings.frame()
    if not unsplit.empty:
        found = unsplit if found.empty else pd.concat([found, unsplit], ignore_index=True)
    if found.empty:
        return
    found = found.sort_values("source_line")
    lines = [f"  line {r.source_line}{f', column {r.column_name}' if isinstance(r.column_name, str) else ''}: "
             f"{r.reason}"
             + (f" (value {r.masked_value!r})" if isinstance(r.masked_value, str)
                and r.masked_value not in r.reason else "")
             for r in found.head(MAX_LISTED).itertuples()]
    more = f"\n  ... and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else ""
    rows = found["source_line"].nunique()
    # The first line names the first finding: progress feeds and the UI show only that line.
    raise SourceFileError(f"{name}: {rows} invalid row{'s' if rows != 1 else ''}, first {lines[0].strip()}:\n"
                          + "\n".join(lines) + more)


def _not_null(columns) -> dict:
    return {c: pa.Column(nullable=False) for c in columns}


def load_units(path: Path) -> pd.DataFrame:
    """vardcentraler.csv -> raw.vardcentraler (typed): one row per unit and validity period."""
    table = read_table(path, UNIT_COLUMNS, optional=OPTIONAL_UNIT_COLUMNS)
    text, findings = table.frame, Findings(table.frame)
    units = text.assign(
        unit_type=lower(text["unit_type"]), owner_type=lower(text["owner_type"]),
        opened_on=parse_dates(text["opened_on"], findings, "opened_on"),
        closed_on=parse_dates(text["closed_on"], findings, "closed_on"),
        rural_tier=parse_numbers(text["rural_tier"], findings, "rural_tier", integer=True),
        listing_cap=parse_numbers(text["listing_cap"], findings, "listing_cap", integer=True),
        cap_from=parse_dates(text["cap_from"], findings, "cap_from"),
        cap_to=parse_dates(text["cap_to"], findings, "cap_to"),
        valid_from=parse_dates(text["valid_from"], findings, "valid_from"),
        valid_to=parse_dates(text["valid_to"], findings, "valid_to"),
        vat_compensation_pct=parse_numbers(text["vat_compensation_pct"], findings, "vat_compensation_pct"))
    run_schema(pa.DataFrameSchema({
        **_not_null(["hsa_id", "name", "opened_on"]),
        "unit_type": pa.Column(checks=allowed("unit_type", UNIT_TYPES), nullable=False),
        "owner_type": pa.Column(checks=allowed("owner_type", OWNER_TYPES), nullable=False),
        "rural_tier": pa.Column(checks=pa.Check.isin(
            list(vocabulary.RURAL_TIERS), error=f"rural_tier {VALUE} is not 0, 1, 2 or 3"), nullable=True),
        "listing_cap": pa.Column(checks=pa.Check.in_range(
            0, MAX_LISTING_CAP, error=f"listing_cap {VALUE} outside 0–{MAX_LISTING_CAP:,}"),
            nullable=True),
        "vat_compensation_pct": pa.Column(checks=pa.Check.in_range(
            0, MAX_VAT_COMPENSATION_PCT, error=f"vat_compensation_pct {VALUE} is outside 0-25"), nullable=True),
    }, name="vardcentraler"), units, findings)
    # rural tier pays geography: a VC needs one (other unit types may leave it empty)
    findings.add((units["unit_type"] == "vardcentral") & units["rural_tier"].isna()
                 & text["rural_tier"].isna(), "rural_tier", "missing rural_tier for a vardcentral")
    findings.add((units["closed_on"] < units["opened_on"]).fillna(False), "closed_on",
                 "closed_on before opened_on")
    findings.add((units["cap_to"] < units["cap_from"]).fillna(False), "cap_to",
                 "cap_to before cap_from")
    findings.add((units["valid_to"] < units["valid_from"]).fillna(False), "valid_to",
                 "valid_to before valid_from")
    _check_overlaps(units, findings)
    # a filial belongs to a vardcentral: its production counts for the parent everywhere
    is_vardcentral = units.groupby("hsa_id")["unit_type"].agg(lambda t: bool((t == "vardcentral").any()))
    filial = units["unit_type"] == "filial"
    parent_known = units["parent_hsa_id"].isin(is_vardcentral.index)
    parent_is_vc = units["parent_hsa_id"].map(is_vardcentral).fillna(False).astype(bool)
    findings.add(filial & units["parent_hsa_id"].isna(), "parent_hsa_id",
                 "missing parent_hsa_id for a filial")
    findings.add(filial & units["parent_hsa_id"].notna() & ~parent_known, "parent_hsa_id",
                 "parent_hsa_id is not a unit in the registry")
    findings.add(filial & parent_known & ~parent_is_vc, "parent_hsa_id",
                 "parent is not of type vardcentral")
    _raise_if_any(findings, table)
    units["rural_tier"] = units["rural_tier"].astype("Int64")
    return units.reset_index(drop=True)[[*UNIT_COLUMNS, *OPTIONAL_UNIT_COLUMNS]]


def _check_overlaps(units: pd.DataFrame, findings: Findings) -> None:
    """Rows of one unit must have disjoint validity (inclusive dates, empty = open): each row
    that overlaps an earlier line of its unit is a finding naming that line (the index is the
    source line)."""
    start = units["valid_from"].fillna(pd.Timestamp.min)
    end = units["valid_to"].fillna(pd.Timestamp.max)
    repeated = units["hsa_id"].notna() & units["hsa_id"].duplicated(keep=False)
    overlapping = pd.Series(False, index=units.index)
    other_line = pd.Series(pd.NA, index=units.index, dtype="object")
    for _, rows in units[repeated].groupby("hsa_id").groups.items():
        rows = list(rows)
        for i, later in enumerate(rows):
            for earlier in rows[:i]:
                if start[later] <= end[earlier] and start[earlier] <= end[later]:
                    overlapping[later] = True
                    other_line[later] = earlier
                    break

    def period(row) -> str:
        return (f"{'open' if pd.isna(units['valid_from'][row]) else f'{units.valid_from[row]:%Y-%m-%d}'}.."
                f"{'open' if pd.isna(units['valid_to'][row]) else f'{units.valid_to[row]:%Y-%m-%d}'}")

    findings.add(overlapping, "valid_from", lambda hit: [
        f"rows of unit {units['hsa_id'][row]} overlap: line {other_line[row]} ({period(other_line[row])})"
        f" and line {row} ({period(row)})" for row in units.index[hit]])


def load_cni_areas(path: Path) -> pd.DataFrame:
    """cni_areas.csv -> raw.cni_areas: deso, year, cni (relative, national mean 1.0)."""
    table = read_table(path, ["deso", "year", "cni"])
    text, findings = table.frame, Findings(table.frame)
    out = text.assign(year=parse_numbers(text["year"], findings, "year", integer=True),
                      cni=parse_numbers(text["cni"], findings, "cni"))
    run_schema(pa.DataFrameSchema({
        **_not_null(["deso", "year"]),
        "cni": pa.Column(checks=pa.Check.gt(0, error=f"cni {VALUE} is not positive"),
                         nullable=False)}, name="cni_areas"), out, findings)
    findings.add(out.duplicated(["deso", "year"], keep=False) & out["deso"].notna(), "deso",
                 "duplicate deso and year")
    _raise_if_any(findings, table)
    return out.astype({"year": "int64"}).reset_index(drop=True)[["deso", "year", "cni"]]


# ACG identities are classified and pseudonymised this many rows at a time: their
# intermediates for a whole national file (10.6 M persons x 2 years = 21 M rows) raised the
# reference load's peak to 6.6 GiB; in parts it stays near the text itself.
ACG_PART_ROWS = 4_000_000


def load_acg_weights(path: Path, key: bytes) -> pd.DataFrame:
    """acg_weights.csv (optional) -> raw.acg_weights: person_key, year, acg_weight."""
    if not Path(path).is_file():
        return pd.DataFrame({"person_key": pd.Series(dtype="str"),
                             "year": pd.Series(dtype="int64"),
                             "acg_weight": pd.Series(dtype="float64")})
    table = read_table(path, ["personnummer", "year", "acg_weight"],
                       pii_columns=("personnummer",), allow_empty=True)
    text, findings = table.frame, Findings(table.frame)
    out = text.assign(year=parse_numbers(text["year"], findings, "year", integer=True),
                      acg_weight=parse_numbers(text["acg_weight"], findings, "acg_weight"))
    run_schema(pa.DataFrameSchema({
        **_not_null(["personnummer", "year"]),
        "acg_weight": pa.Column(checks=pa.Check.in_range(
            0, MAX_ACG_WEIGHT, error=f"acg_weight {VALUE} outside the plausible range "
                                     f"0–{MAX_ACG_WEIGHT:g}"),
            nullable=False)}, name="acg_weights"), out, findings)
    parts = [_acg_person_keys(text["personnummer"].iloc[i:i + ACG_PART_ROWS], key, findings)
             for i in range(0, len(text), ACG_PART_ROWS)]
    person_keys = pd.concat(parts, ignore_index=True) if parts else pd.Series(dtype="str")
    del parts
    years = out["year"].reset_index(drop=True)
    # One weight per person and year, compared on the keys (the keyed hash of the normalised
    # personnummer, so a repeat written with a hyphen is found too).
    person_years = pd.DataFrame({"person_key": person_keys, "year": years})
    if may_repeat(person_years):
        findings.add(person_keys.notna().to_numpy() & person_years.duplicated(keep=False).to_numpy(),
                     "personnummer", "duplicate personnummer and year")
    del person_years
    _raise_if_any(findings, table)
    return pd.DataFrame({"person_key": person_keys, "year": years.astype("int64"),
                         "acg_weight": out["acg_weight"].reset_index(drop=True)})


def _acg_person_keys(personnummer: pd.Series, key: bytes, findings: Findings) -> pd.Series:
    """The person keys of one part of the ACG file (null where the identity is invalid, which
    is a finding: the load then fails)."""
    ids = classify(personnummer)
    valid_id = ids["kind"].isin([PERSONNUMMER, SAMORDNINGSNUMMER]).to_numpy()
    invalid = personnummer.notna().to_numpy() & ~valid_id
    if invalid.any():
        findings.add_lines(personnummer.index[invalid], "personnummer",
                           ("invalid personnummer: "
                            + ids["invalid_reason"][invalid].fillna("not 12 digits")).to_numpy())
    normalized = ids["normalized"].where(valid_id)
    if valid_id.all():
        return pseudonymise_repeated_column(normalized, key).reset_index(drop=True)
    keys = pd.Series(pd.NA, index=range(len(ids)), dtype="str")
    if valid_id.any():
        keys[valid_id] = pseudonymise_repeated_column(normalized[valid_id], key).to_numpy()
    return keys


def _not_a_vardcentral(findings: Findings, hsa_id: pd.Series, units: pd.DataFrame | None) -> None:
    """A grant or extra assignment pays a VC: an hsa_id the registry has no vardcentral row for
    is an error (a filial's production, and money, go to its parent)."""
    if units is None:
        return
    vardcentraler = set(units.loc[units["unit_type"] == "vardcentral", "hsa_id"])
    types = units.drop_duplicates("hsa_id").set_index("hsa_id")["unit_type"]
    wrong = hsa_id.notna() & ~hsa_id.isin(vardcentraler)
    findings.add(wrong, "hsa_id", lambda hit: [
        f"{h} is a {types[h]}, not a vardcentral" if h in types.index else f"{h} is not a unit in the registry"
        for h in hsa_id[hit]])


def _disagreeing_rows(findings: Findings, frame: pd.DataFrame, group: list[str], column: str,
                      what: str) -> None:
    """Rows of one group (e.g. programme and payout month) whose `column` is not the same on every
    row: each such row is a finding naming the group's lines."""
    keys = frame[group].astype("string").fillna("")
    key = keys.apply(lambda row: "\x1f".join(row), axis=1) if len(frame) else pd.Series(dtype="string")
    differs = frame.groupby(key, dropna=False)[column].transform(lambda v: v.nunique(dropna=False) > 1)
    if not differs.any():
        return
    lines = pd.Series(frame.index, index=frame.index).groupby(key).agg(lambda v: ", ".join(map(str, v)))
    labels = {k: ", ".join(f"{g} {v!r}" if v else f"{g} (none)" for g, v in zip(group, k.split("\x1f")))
              for k in lines.index}
    findings.add(differs.to_numpy(dtype=bool), column, lambda hit: [
        f"{what}: {column} differs between lines {lines[k]} ({labels[k]})" for k in key[hit]])


GRANT_COLUMNS = ["payout_month", "pot_sek", "hsa_id"]
GRANT_OPTIONAL_COLUMNS = ["programme", "split"]


def load_development_grants(path: Path, units: pd.DataFrame | None = None) -> pd.DataFrame:
    """development_grants.csv (optional) -> raw.development_grants: payout_month, pot_sek,
    hsa_id, programme, split; one row per participating VC and programme, the programme's pot
    and split repeated on each (they must agree). `units` (the registry) checks that every
    participant is a vardcentral."""
    columns = GRANT_COLUMNS + GRANT_OPTIONAL_COLUMNS
    if not Path(path).is_file():
        return pd.DataFrame({"payout_month": pd.Series(dtype="str"),
                             "pot_sek": pd.Series(dtype="float64"),
                             "hsa_id": pd.Series(dtype="str"),
                             "programme": pd.Series(dtype="str"),
                             "split": pd.Series(dtype="str")})
    table = read_table(path, GRANT_COLUMNS, allow_empty=True, optional=GRANT_OPTIONAL_COLUMNS)
    text, findings = table.frame, Findings(table.frame)
    out = text.assign(pot_sek=parse_numbers(text["pot_sek"], findings, "pot_sek"),
                      programme=text["programme"].str.strip().replace("", pd.NA),
                      split=lower(text["split"]).str.strip().replace("", pd.NA).fillna("listed"))
    run_schema(pa.DataFrameSchema({
        "payout_month": pa.Column(checks=pa.Check.str_matches(
            r"^\d{4}-(0[1-9]|1[0-2])$", error=f"payout_month '{VALUE}' is not YYYY-MM"),
            nullable=False),
        "pot_sek": pa.Column(checks=pa.Check.ge(0, error=f"pot_sek {VALUE} < 0"),
                             nullable=False),
        "hsa_id": pa.Column(nullable=False),
        "split": pa.Column(checks=allowed("split", GRANT_SPLITS), nullable=False),
    }, name="development_grants"), out, findings)
    findings.add(out.duplicated(["payout_month", "programme", "hsa_id"], keep=False), "hsa_id",
                 "duplicate payout_month, programme and hsa_id")
    for column in ("pot_sek", "split"):
        _disagreeing_rows(findings, out, ["payout_month", "programme"], column,
                          "rows of one programme and payout_month must agree")
    _not_a_vardcentral(findings, out["hsa_id"], units)
    _raise_if_any(findings, table)
    return out.reset_index(drop=True)[columns]


EXTRA_ASSIGNMENT_COLUMNS = ["hsa_id", "assignment", "sek_per_month", "valid_from", "valid_to"]


def load_extra_assignments(path: Path, units: pd.DataFrame | None = None) -> pd.DataFrame:
    """extra_assignments.csv (optional) -> raw.extra_assignments: hsa_id, assignment,
    sek_per_month, valid_from, valid_to (inclusive; empty = open-ended). `units` (the registry)
    checks that every row is for a vardcentral."""
    if not Path(path).is_file():
        return pd.DataFrame({"hsa_id": pd.Series(dtype="str"), "assignment": pd.Series(dtype="str"),
                             "sek_per_month": pd.Series(dtype="float64"),
                             "valid_from": pd.Series(dtype="datetime64[ns]"),
                             "valid_to": pd.Series(dtype="datetime64[ns]")})
    table = read_table(path, EXTRA_ASSIGNMENT_COLUMNS, allow_empty=True)
    text, findings = table.frame, Findings(table.frame)
    out = text.assign(sek_per_month=parse_numbers(text["sek_per_month"], findings, "sek_per_month"),
                      valid_from=parse_dates(text["valid_from"], findings, "valid_from"),
                      valid_to=parse_dates(text["valid_to"], findings, "valid_to"))
    run_schema(pa.DataFrameSchema({
        **_not_null(["hsa_id", "assignment", "valid_from"]),
        "sek_per_month": pa.Column(checks=pa.Check.ge(0, error=f"sek_per_month {VALUE} < 0"),
                                   nullable=False)}, name="extra_assignments"), out, findings)
    findings.add((out["valid_to"] < out["valid_from"]).fillna(False), "valid_to",
                 "valid_to before valid_from")
    findings.add(out.duplicated(["hsa_id", "assignment", "valid_from"], keep=False) & out["hsa_id"].notna(),
                 "assignment", "duplicate hsa_id, assignment and valid_from")
    _not_a_vardcentral(findings, out["hsa_id"], units)
    _raise_if_any(findings, table)
    return out.reset_index(drop=True)[EXTRA_ASSIGNMENT_COLUMNS]
