"""The care-unit registry of the synthetic region, modelled on Region Dalarna, and its staff.

Above scale 1 the region is copied (each copy a fictitious "region" with its own county code and
HSA-ids), so a national month is ~37 Dalarnas. Unit parameters that make VCs differ (continuity,
3-day assessment, phone handling) are drawn once per unit from the seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core import vocabulary

from . import months

ORG = "SE2321000180"  # Region Dalarna's organisation number, the prefix of its HSA-ids

# code, name, population 31 Dec 2024 (SCB)
MUNICIPALITIES = [
    ("2080", "Falun", 59945), ("2081", "Borlänge", 51425), ("2085", "Ludvika", 26634),
    ("2084", "Avesta", 22417), ("2062", "Mora", 20540), ("2029", "Leksand", 16137),
    ("2083", "Hedemora", 15281), ("2082", "Säter", 11223), ("2031", "Rättvik", 10998),
    ("2061", "Smedjebacken", 10823), ("2026", "Gagnef", 10384), ("2023", "Malung-Sälen", 10254),
    ("2039", "Älvdalen", 6882), ("2034", "Orsa", 6851), ("2021", "Vansbro", 6752),
]
MUNI_POP = np.array([p for _, _, p in MUNICIPALITIES])
MUNI_CODES = [c for c, _, _ in MUNICIPALITIES]
N_MUNI = len(MUNICIPALITIES)

PUBLIC = "Region Dalarna"
# no, name, unit_type, parent_no, owner_type, provider, municipality, rural_tier, share of the
# municipality's residents, opened_on ('NEW' = opens two months into the generated range)
UNITS = [
    (101, "Britsarvets vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2080", 0, 0.45, "2008-01-01"),
    (102, "Falu vårdcentral", "vardcentral", None, "privat", "Falu Vårdcentral AB", "2080", 0, 0.33, "2010-08-01"),
    (103, "Vårdcentral Kvarnporten", "vardcentral", None, "privat", "Kvarnporten Vård AB", "2080", 0, 0.22, "2022-09-01"),
    (104, "Jakobsgårdarnas vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2081", 0, 0.36, "2008-01-01"),
    (105, "Kvarnsvedens vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2081", 0, 0.30, "2008-01-01"),
    (106, "Läkarhuset Borlänge", "vardcentral", None, "privat", "Läkarhuset i Borlänge AB", "2081", 0, 0.34, "2010-08-01"),
    (107, "Vårdcentralen Kupolen", "vardcentral", None, "privat", "Kupolen Hälsa AB", "2081", 0, 0.0, "NEW"),
    (108, "Ludvika vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2085", 0, 0.62, "2008-01-01"),
    (109, "Vårdcentralen Engelbrekt", "vardcentral", None, "privat", "Engelbrektshälsan AB", "2085", 0, 0.38, "2012-09-01"),
    (110, "Avesta vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2084", 0, 0.56, "2008-01-01"),
    (111, "Koppardalens vårdcentral", "vardcentral", None, "privat", "Koppardalens Vård AB", "2084", 0, 0.237, "2012-02-01"),
    (112, "Avestahälsan", "vardcentral", None, "privat", "Avestahälsan AB", "2084", 0, 0.203, "2012-04-01"),
    (113, "Mora vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2062", 1, 1.0, "2008-01-01"),
    (114, "Leksands vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2029", 0, 1.0, "2008-01-01"),
    (115, "Hedemora vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2083", 0, 1.0, "2008-01-01"),
    (116, "Säters vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2082", 0, 1.0, "2008-01-01"),
    (117, "Rättviks vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2031", 1, 1.0, "2008-01-01"),
    (118, "Smedjebackens vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2061", 0, 1.0, "2008-01-01"),
    (119, "Gagnefs vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2026", 0, 1.0, "2008-01-01"),
    (120, "Malungs vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2023", 2, 1.0, "2008-01-01"),
    (121, "Sälens vårdcentral", "filial", 120, "offentlig", PUBLIC, "2023", 3, 0.0, "2008-01-01"),
    (122, "Älvdalens vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2039", 2, 0.64, "2008-01-01"),
    (123, "Särna vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2039", 3, 0.31, "2008-01-01"),
    (124, "Idre vårdcentral", "filial", 123, "offentlig", PUBLIC, "2039", 3, 0.0, "2008-01-01"),
    (125, "Orsa vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2034", 1, 0.90, "2008-01-01"),
    (126, "Vansbro vårdcentral", "vardcentral", None, "offentlig", PUBLIC, "2021", 1, 1.0, "2008-01-01"),
    (127, "Jourcentralen Falun", "jour", None, "offentlig", PUBLIC, "2080", 0, 0.0, "2008-01-01"),
    (128, "Digitala vårdcentralen Dalarna", "digital", None, "offentlig", PUBLIC, "2080", 0, 0.0, "2019-01-01"),
]
N_UNITS = len(UNITS)
NEW_UNIT_NO = 107   # opens two months into the range: start grant, growth from zero
CAP_UNIT_NO = 102   # listing cap from month 4 to month 9 of the range
CLOSING_UNIT_NO = 105   # closes at the end of month 8 of the range; its listed move to others
CLOSING_MONTH = 7       # months after the range's first
TAKEOVER_UNIT_NO = 116  # public, run by a private provider from month 6 of the range on
TAKEOVER_MONTH = 5
TAKEOVER_PROVIDER = "Säterhälsan AB"
# Residents of a neighbouring municipality listed at a VC (unit number -> {municipality: share});
# the home VCs' shares of those municipalities leave room for them (Mora draws from Orsa and
# Älvdalen, so Mora vårdcentral lists more than Mora's own population, as in the seed figures).
NEIGHBOUR_SHARES = {113: {"2034": 0.10, "2039": 0.05}}
GRANT_UNIT_NOS = [101, 103, 108, 113, 123]  # development-grant participants
EXPECTED_LISTED_OTHER = {"filial": 0.12, "jour": 0.07, "digital": 0.09}  # staff sizing, share of region

PROFESSIONS = list(vocabulary.PROFESSIONS)
# listed persons per member of staff, by profession (sizes the per-unit staff lists)
STAFF_RATIO = np.array([1700, 900, 5000, 12000, 9000, 9000, 30000, 12000, 30000, 6000])

# Fictitious county codes for region copies above scale 1 (copy 0 is Dalarna, county 20).
_COUNTIES = [20, 1, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 17, 18, 19, 21, 22, 23, 24, 25] + list(range(26, 100))


def muni_code(copy: int, local: int) -> str:
    return f"{_COUNTIES[copy]:02d}{MUNI_CODES[local][2:]}"


def copies_for(scale: float) -> tuple[int, float]:
    """Number of region copies and the scale of each: one copy up to scale 1, then ceil(scale)."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    n = 1 if scale <= 1 else int(np.ceil(scale - 1e-9))
    if n > len(_COUNTIES):
        raise ValueError(f"scale {scale} needs more than {len(_COUNTIES)} region copies")
    return n, scale / n


@dataclass
class Registry:
    table: pd.DataFrame          # the registry file's rows, SPEC §3.5 columns
    n_copies: int
    copy_scale: float
    hsa: np.ndarray              # global unit index -> HSA-id (object)
    copy: np.ndarray
    local: np.ndarray            # index into UNITS
    unit_type: np.ndarray        # 'vardcentral', 'filial', 'jour', 'digital'
    muni: np.ndarray             # global municipality index (copy * N_MUNI + local)
    tier: np.ndarray
    opened: np.ndarray           # day number
    parent: np.ndarray           # global index of the parent VC, -1 if none
    filial_of: np.ndarray        # for a VC: global index of its filial, -1 if none
    share: np.ndarray            # local share of the municipality's residents
    p_cont: np.ndarray           # probability a contact is with the person's own doctor/nurse
    q3: np.ndarray               # share of first assessments within 3 days
    same_day: np.ndarray         # share of calls handled the same day
    leak: np.ndarray             # propensity of its listed to seek care elsewhere
    staff_hsa: np.ndarray        # global staff index -> HSA-id
    staff_off: np.ndarray        # (unit, profession) -> first global staff index
    staff_n: np.ndarray          # (unit, profession) -> number of staff
    cap_unit: int                # local index of the capped VC
    new_unit: int                # local index of the VC that opens in the range
    cap_from: int
    cap_to: int
    closed: np.ndarray           # day number of closed_on, a far-future day if open
    file_rows: pd.DataFrame      # the registry file: `table` plus a second row for the takeover


    @property
    def is_vc(self) -> np.ndarray:
        return self.unit_type == "vardcentral"


def build_registry(scale: float, first_month: int, seed: int) -> Registry:
    n_copies, copy_scale = copies_for(scale)
    nos = [u[0] for u in UNITS]
    local_of_no = {no: i for i, no in enumerate(nos)}
    new_opened = months.first_day(first_month + 2)
    closed_on = months.last_day(first_month + CLOSING_MONTH)
    cap_from, cap_to = months.first_day(first_month + 3), months.last_day(first_month + 8)
    rows, g_parent = [], []
    for c in range(n_copies):
        suffix = "" if c == 0 else f" (region {c + 1:02d})"
        for no, name, utype, parent_no, owner, provider, muni, tier, _share, opened in UNITS:
            local_muni = MUNI_CODES.index(muni)
            is_cap = no == CAP_UNIT_NO
            cap = int(round(_expected_listed(no, copy_scale), -1)) if is_cap else None  # at its cap
            rows.append({
                "hsa_id": unit_hsa(c, no),
                "name": name + suffix,
                "unit_type": utype,
                "parent_hsa_id": unit_hsa(c, parent_no) if parent_no else None,
                "owner_type": owner,
                "provider_name": provider,
                "municipality_code": muni_code(c, local_muni),
                "opened_on": months.iso(new_opened) if opened == "NEW" else opened,
                "closed_on": months.iso(closed_on) if no == CLOSING_UNIT_NO else None,
                "rural_tier": tier,
                "listing_cap": max(cap, 1) if is_cap else None,
                "cap_from": months.iso(cap_from) if is_cap else None,
                "cap_to": months.iso(cap_to) if is_cap else None,
            })
            g_parent.append(c * N_UNITS + local_of_no[parent_no] if parent_no else -1)
    table = pd.DataFrame(rows)
    n = len(table)
    local = np.tile(np.arange(N_UNITS), n_copies)
    copy = np.repeat(np.arange(n_copies), N_UNITS)
    parent = np.array(g_parent)
    filial_of = np.full(n, -1)
    filial_of[parent[parent >= 0]] = np.flatnonzero(parent >= 0)
    unit_type = table["unit_type"].to_numpy(dtype=object)

    rng = np.random.default_rng([seed, 1])
    special = np.isin(unit_type, ["jour", "digital"])
    staff_hsa, staff_off, staff_n = _staff(copy, local, copy_scale)
    return Registry(
        table=table, n_copies=n_copies, copy_scale=copy_scale,
        hsa=table["hsa_id"].to_numpy(dtype=object), copy=copy, local=local, unit_type=unit_type,
        muni=copy * N_MUNI + np.array([MUNI_CODES.index(UNITS[i][6]) for i in local]),
        tier=table["rural_tier"].to_numpy(),
        opened=np.array([months.day_number(d) for d in table["opened_on"]]),
        parent=parent, filial_of=filial_of,
        share=np.array([UNITS[i][8] for i in local]),
        p_cont=rng.uniform(0.28, 0.58, n),   # region mean doctor COC ≈ 0.27 (seed figure)
        q3=np.where(special, 0.97, rng.uniform(0.58, 0.92, n)),
        same_day=rng.uniform(0.80, 0.95, n),
        leak=rng.uniform(0.5, 1.6, n),
        staff_hsa=staff_hsa, staff_off=staff_off, staff_n=staff_n,
        cap_unit=local_of_no[CAP_UNIT_NO], new_unit=local_of_no[NEW_UNIT_NO],
        cap_from=cap_from, cap_to=cap_to,
        closed=np.array([months.day_number(d) if isinstance(d, str) else OPEN_FOREVER for d in table["closed_on"]]),
        file_rows=_with_takeover(table, months.first_day(first_month + TAKEOVER_MONTH)),
    )


OPEN_FOREVER = months.day_number("9999-12-31")


def _with_takeover(table: pd.DataFrame, day: int) -> pd.DataFrame:
    """The registry file's rows: every unit's row valid always, except the taken-over VC, which has
    its public row up to the day before `day` and a private row from `day` (SPEC §3.5 history)."""
    rows = table.assign(valid_from=None, valid_to=None)
    taken = rows["hsa_id"].str.endswith(f"{TAKEOVER_UNIT_NO:03d}")
    before, after = rows[taken].copy(), rows[taken].copy()
    before["valid_to"] = months.iso(day - 1)
    after["valid_from"] = months.iso(day)
    after["owner_type"] = "privat"
    after["provider_name"] = TAKEOVER_PROVIDER
    return pd.concat([rows[~taken], before, after]).sort_values(["hsa_id", "valid_from"], na_position="first",
                                                                 kind="stable").reset_index(drop=True)


def unit_hsa(copy: int, no: int) -> str:
    return f"{ORG}-E{copy:09d}{no:03d}"


def _expected_listed(no: int, copy_scale: float) -> float:
    spec = next(u for u in UNITS if u[0] == no)
    if spec[2] != "vardcentral":
        return EXPECTED_LISTED_OTHER[spec[2]] * MUNI_POP.sum() * copy_scale
    pop = MUNI_POP[MUNI_CODES.index(spec[6])]
    share = spec[8] if spec[8] > 0 else 0.15  # the new VC grows to about 15 % of its municipality
    neighbours = sum(s * MUNI_POP[MUNI_CODES.index(code)] for code, s in NEIGHBOUR_SHARES.get(no, {}).items())
    return (share * pop + neighbours) * copy_scale


def _staff(copy: np.ndarray, local: np.ndarray, copy_scale: float):
    """A small staff list per unit and profession; HSA-ids P<copy:3><unit no:3><profession:2><n:4>."""
    n_units, n_prof = len(copy), len(PROFESSIONS)
    counts = np.zeros((n_units, n_prof), dtype=np.int64)
    ids = []
    for g in range(n_units):
        no = UNITS[local[g]][0]
        counts[g] = np.maximum(1, np.round(_expected_listed(no, copy_scale) / STAFF_RATIO)).astype(np.int64)
        for p in range(n_prof):
            ids.extend(f"{ORG}-P{copy[g]:03d}{no:03d}{p:02d}{k:04d}" for k in range(counts[g, p]))
    offsets = np.concatenate([[0], np.cumsum(counts.ravel())[:-1]]).reshape(n_units, n_prof)
    return np.array(ids, dtype=object), offsets, counts
