"""Reference files: the registry, CNI per DeSO, ACG weights per person, development grants,
extra assignments and the default reimbursement model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from . import months
from .population import Deso, Population
from .units import GRANT_UNIT_NOS, UNITS, Registry
from .writer import Variant, pnr_column, write_csv

DEFAULT_MODEL = Path(__file__).parent / "reference" / "reimbursement_model.yaml"
ACG_MISSING_PER_MILLE = 30   # persons without a weight ("no weight" shows in the statements)


def write_registry(path: Path, reg: Registry) -> int:
    """Semicolon-separated, Windows-1252, CRLF: the way the registry comes out of Excel."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = reg.file_rows.astype({"listing_cap": "Int64"})
    table.to_csv(path, sep=";", index=False, encoding="cp1252", lineterminator="\r\n", na_rep="")
    return len(table)


def write_model(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(DEFAULT_MODEL.read_bytes())
    return 1


def cni_years(month_list: list[int]) -> list[int]:
    """The years of the range plus the one before, so the file always holds two or more years."""
    years = sorted({m // 12 for m in month_list})
    return [years[0] - 1] + years


def write_cni(path: Path, deso: Deso, years: list[int], seed: int) -> int:
    rng = np.random.default_rng([seed, 50])
    known = np.flatnonzero(deso.known)
    codes = deso.codes[known]
    urban = np.array([c[4] == "C" for c in codes])
    base = np.exp(rng.normal(0, 0.22, len(known)))
    base *= np.where(urban & (rng.random(len(known)) < 0.08), 1.9, 1.0)   # a few deprived areas
    cols = {"deso": [], "year": [], "cni": []}
    for y in years:
        value = base * np.exp(rng.normal(0, 0.03, len(known)))
        value = np.clip(value / value.mean(), 0.6, 2.5)
        cols["deso"].append(codes)
        cols["year"].append(np.full(len(known), y))
        cols["cni"].append(np.round(value, 3))
    table = pa.table({k: pa.array(np.concatenate(v)) for k, v in cols.items()})
    return write_csv(path, table, Variant())


def write_acg(path: Path, pop: Population, month_list: list[int], seed: int) -> int:
    """One row per person present in a generated month of each year; ~3 % have no weight.
    The weight rises with age and with the person's latent frailty (which also drives contacts)."""
    pnr_idx = np.arange(len(pop))
    missing = (pnr_idx * 2654435761 % 2**32) % 1000 < ACG_MISSING_PER_MILLE
    parts = []
    for y in sorted({m // 12 for m in month_list}):
        in_year = [m for m in month_list if m // 12 == y]
        who = np.flatnonzero((pop.entry <= max(in_year)) & (pop.exit > min(in_year)) & ~missing)
        age = np.clip(months.age_on(pop.birth[who], months.day_number(f"{y}-07-01")), 0, 105)
        noise = np.random.default_rng([seed, 40, y]).normal(0, 0.12, len(who))
        w = (0.45 + 0.022 * age + np.where(age <= 1, 0.6, 0)) * np.exp(0.5 * pop.acg_z[who] + noise)
        w *= np.where(pop.sabo[who], 1.4, 1.0)
        w = np.round(w / w.mean(), 4)
        parts.append(pa.table({"personnummer": pnr_column(pop.pnr[who], False),
                               "year": pa.array(np.full(len(who), y)), "acg_weight": pa.array(w)}))
    return write_csv(path, pa.concat_tables(parts), Variant())


# (programme, split, pot per copy of the region at scale 1, participating unit numbers)
GRANT_PROGRAMMES = [
    ("Hälsoinriktat förbättringsarbete", "listed", 3_000_000, GRANT_UNIT_NOS),
    ("Psykisk hälsa", "equal", 600_000, [102, 109]),
]
# (unit number, assignment, SEK per month, first and last month counted from the range's start;
# None = open-ended)
EXTRA_ASSIGNMENTS = [
    (104, "KBT", 40_000, 2, 7),
    (113, "ST-läkare", 35_000, 0, None),
]


def _units_numbered(reg: Registry, numbers: list[int]) -> list[str]:
    """The HSA-ids of these unit numbers in every copy of the region."""
    nos = np.array([UNITS[i][0] for i in reg.local])
    return list(reg.hsa[np.isin(nos, numbers)])


def write_grants(path: Path, reg: Registry, month_list: list[int]) -> int:
    """Two programmes paid out five months into the range (or in its last month): one split by
    listed count among ~5 VCs per copy, one in equal parts among 2."""
    payout = months.month_label(min(month_list[0] + 5, month_list[-1]))
    cols = {"payout_month": [], "pot_sek": [], "hsa_id": [], "programme": [], "split": []}
    for programme, split, pot_per_copy, numbers in GRANT_PROGRAMMES:
        pot = int(round(pot_per_copy * reg.copy_scale * reg.n_copies, -3))
        for hsa in _units_numbered(reg, numbers):
            for column, value in zip(cols, (payout, pot, hsa, programme, split)):
                cols[column].append(value)
    table = pa.table({k: pa.array(v, pa.int64() if k == "pot_sek" else pa.string()) for k, v in cols.items()})
    return write_csv(path, table, Variant())


def write_extra_assignments(path: Path, reg: Registry, month_list: list[int]) -> int:
    """Tilläggsuppdrag: one valid for part of the range, one open-ended from its start."""
    cols = {"hsa_id": [], "assignment": [], "sek_per_month": [], "valid_from": [], "valid_to": []}
    for number, assignment, amount, first, last in EXTRA_ASSIGNMENTS:
        valid_from = months.iso(months.first_day(month_list[0] + first))
        valid_to = "" if last is None else months.iso(months.last_day(month_list[0] + last))
        for hsa in _units_numbered(reg, [number]):
            for column, value in zip(cols, (hsa, assignment, str(amount), valid_from, valid_to)):
                cols[column].append(value)
    table = pa.table({k: pa.array(v, pa.string()) for k, v in cols.items()})
    return write_csv(path, table, Variant())


