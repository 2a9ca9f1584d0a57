"""Residents: age/sex pyramid, DeSO areas, synthetic personnummer, births, deaths and migration.

All person attributes live in flat numpy arrays indexed by a stable person index, so a person
keeps their identity (and personnummer) across months; nobody is ever removed, only marked absent.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sources.personnummer import luhn_check_digit

from . import months
from .units import MUNI_POP, N_MUNI, muni_code

MAX_AGE = 105
# Relative persons per single year of age (Sweden, tilted older as in Dalarna), interpolated.
_PYRAMID_KNOTS = [(0, 96), (5, 108), (10, 116), (15, 114), (20, 100), (25, 98), (30, 104), (35, 108),
                  (40, 110), (45, 112), (50, 122), (55, 126), (60, 122), (65, 120), (70, 116),
                  (75, 110), (80, 86), (85, 50), (90, 24), (95, 7), (100, 1.2), (105, 0.05)]
_MALE_KNOTS = [(0, 0.513), (50, 0.51), (65, 0.50), (75, 0.47), (85, 0.40), (95, 0.28), (105, 0.2)]

AGES = np.arange(MAX_AGE + 1)
PYRAMID = np.interp(AGES, *zip(*_PYRAMID_KNOTS))
PYRAMID = PYRAMID / PYRAMID.sum()
MALE_SHARE = np.interp(AGES, *zip(*_MALE_KNOTS))

# Yearly rates for the region at scale 1 (Dalarna-like): births, in- and out-movers, deaths.
BIRTHS_PER_YEAR = 2400
IN_MOVERS_PER_YEAR = 8300
OUT_MOVERS_PER_YEAR = 7300   # balances the extra SÄBO deaths: population roughly stable
DEATHS_PER_YEAR = 3300
MIGRATION_AGE = 0.012 + 0.05 * np.exp(-(((AGES - 24) / 6.0) ** 2))  # movers are mostly young adults
GOMPERTZ_B = 0.095
_VISITOR_SERIALS = 20   # the last serials of each birth date are kept for non-resident visitors
_SERIALS = 500 - _VISITOR_SERIALS


def municipality_population(copy_scale: float) -> np.ndarray:
    """Residents per municipality of one region copy (286 546 at scale 1)."""
    return np.round(MUNI_POP * copy_scale).astype(np.int64)


def mortality_scale() -> float:
    """Gompertz level so that the pyramid yields DEATHS_PER_YEAR at scale 1."""
    return DEATHS_PER_YEAR / (MUNI_POP.sum() * float((PYRAMID * np.exp(GOMPERTZ_B * AGES)).sum()))


def out_migration_scale() -> float:
    return OUT_MOVERS_PER_YEAR / (MUNI_POP.sum() * float((PYRAMID * MIGRATION_AGE).sum()))


@dataclass
class Deso:
    """SCB DeSO areas per municipality; the last code per municipality is deliberately absent
    from cni_areas (an "unknown area")."""
    codes: np.ndarray        # object array of codes
    muni: np.ndarray         # global municipality index
    known: np.ndarray        # bool: listed in cni_areas
    cum: np.ndarray          # muni + cumulative weight within the municipality (for sampling)


def build_deso(n_copies: int, seed: int) -> Deso:
    rng = np.random.default_rng([seed, 2])
    codes, muni, known, weights = [], [], [], []
    for c in range(n_copies):
        for m in range(N_MUNI):
            code = muni_code(c, m)
            n = max(3, int(round(MUNI_POP[m] / 1500)))  # DeSO size is 700-2 700 residents
            urban = int(round(n * 0.6))
            letters = ["C"] * urban + ["B"] * ((n - urban) // 2) + ["A"] * (n - urban - (n - urban) // 2)
            for i, letter in enumerate(letters):
                codes.append(f"{code}{letter}{1010 + 10 * i:04d}")
                muni.append(c * N_MUNI + m)
                known.append(True)
            w = rng.gamma(6.0, size=n)
            weights.extend(0.997 * w / w.sum())
            codes.append(f"{code}C9990")  # new area not yet in the CNI file: ~0.3 % of residents
            muni.append(c * N_MUNI + m)
            known.append(False)
            weights.append(0.003)
    muni_a = np.array(muni)
    w = np.array(weights)
    cum = np.zeros_like(w)
    for g in np.unique(muni_a):  # cumulative within each municipality, offset by its index
        sel = muni_a == g
        cum[sel] = g + np.cumsum(w[sel]) / w[sel].sum()
    return Deso(np.array(codes, dtype=object), muni_a, np.array(known), cum)


def draw_deso(rng: np.random.Generator, deso: Deso, muni: np.ndarray) -> np.ndarray:
    """A DeSO within each person's municipality; -1 (no area) for ~0.2 %."""
    idx = np.searchsorted(deso.cum, muni + rng.random(len(muni)), side="right")
    idx = np.minimum(idx, len(deso.cum) - 1)
    idx[rng.random(len(muni)) < 0.002] = -1
    return idx.astype(np.int32)


class PnrAllocator:
    """Unique personnummer: a running serial per (birth date, sex); serials map to birth numbers
    through a fixed permutation so numbers do not look sequential. Never reuses a number."""

    _EPOCH = months.day_number("1900-01-01")
    _DAYS = months.day_number("2100-01-01") - _EPOCH

    def __init__(self, seed: int):
        self.count = np.zeros((self._DAYS, 2), dtype=np.int32)
        self.perm = np.random.default_rng([seed, 3]).permutation(_SERIALS)

    def allocate(self, birth: np.ndarray, male: np.ndarray) -> np.ndarray:
        day = birth.astype(np.int64) - self._EPOCH
        sex = male.astype(np.int64)
        key = (day * 2 + sex).astype(np.int32)
        order = np.argsort(key, kind="stable")
        k_sorted = key[order]
        starts = np.r_[0, np.flatnonzero(np.diff(k_sorted)) + 1]
        rank = np.arange(len(k_sorted)) - np.repeat(starts, np.diff(np.r_[starts, len(k_sorted)]))
        serial = np.empty(len(key), dtype=np.int64)
        serial[order] = rank + self.count.ravel()[k_sorted]
        self.count += np.bincount(key, minlength=self.count.size).reshape(self.count.shape).astype(np.int32)
        if serial.size and serial.max() >= _SERIALS:
            raise RuntimeError("more than 480 persons of one sex born on one day: lower the scale")
        # shift the permutation by the date so birth numbers vary between dates, still unique per date
        j = (self.perm[serial] + day * 7919) % _SERIALS
        return compose_pnr(birth, 2 * j + sex)


def compose_pnr(birth: np.ndarray, birth_number: np.ndarray, day_offset: int = 0) -> np.ndarray:
    """12-digit personnummer as int64 YYYYMMDDNNNC; day_offset 60 gives a samordningsnummer."""
    y, m, d = months.ymd(birth)
    d = d + day_offset
    yy = y % 100
    nine = np.stack([yy // 10, yy % 10, m // 10, m % 10, d // 10, d % 10,
                     birth_number // 100, birth_number // 10 % 10, birth_number % 10], axis=1)
    check = luhn_check_digit(nine)
    return ((y * 10000 + m * 100 + d) * 10000 + birth_number * 10 + check).astype(np.int64)


def visitor_pnr(rng: np.random.Generator, n: int, ref_day: int) -> np.ndarray:
    """Personnummer of non-residents (e.g. skiers): serials from the visitor block, never a resident's."""
    birth = ref_day - rng.integers(365 * 2, 365 * 80, n)
    male = rng.random(n) < 0.5
    serial = _SERIALS + rng.integers(0, _VISITOR_SERIALS, n)
    return compose_pnr(birth, 2 * serial + male)


def coordination_pnr(rng: np.random.Generator, n: int, ref_day: int) -> np.ndarray:
    birth = ref_day - rng.integers(365 * 18, 365 * 60, n)
    return compose_pnr(birth, 2 * rng.integers(0, 500, n) + (rng.random(n) < 0.5), day_offset=60)


_FIELDS = {
    "birth": np.int32, "male": bool, "pnr": np.int64, "muni": np.int32, "deso": np.int32,
    "unit": np.int32, "listed_from": np.int32, "aktiv": bool, "fl": bool, "pref_doc": np.int16,
    "pref_nurse": np.int16, "sabo": bool, "entry": np.int32, "exit": np.int32, "frail": np.float32,
    "acg_z": np.float32, "hopper": bool,
}
NEVER = 10**6  # exit month of a person still present


@dataclass
class Population:
    """Columns of the person table (see _FIELDS); `entry`/`exit` are month indices: a person is
    present at the end of month m when entry <= m < exit."""
    cols: dict = field(default_factory=lambda: {k: np.empty(0, dtype=t) for k, t in _FIELDS.items()})

    def __getattr__(self, name):
        try:
            return self.__dict__["cols"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __len__(self) -> int:
        return len(self.cols["birth"])

    def append(self, **values) -> np.ndarray:
        n = len(values["birth"])
        start = len(self)
        for k, t in _FIELDS.items():
            self.cols[k] = np.concatenate([self.cols[k], np.asarray(values[k]).astype(t, copy=False)])
        return np.arange(start, start + n)

    def present(self, m: int) -> np.ndarray:
        return (self.cols["entry"] <= m) & (self.cols["exit"] > m)


def sample_ages(rng: np.random.Generator, n: int, weights: np.ndarray = PYRAMID) -> np.ndarray:
    return rng.choice(AGES, size=n, p=weights / weights.sum())


def birth_dates(rng: np.random.Generator, ages: np.ndarray, ref_day) -> np.ndarray:
    """A birth date that makes each person `ages` years old (roughly) on ref_day, never after it."""
    days = np.floor(ages * 365.25).astype(np.int64) + rng.integers(0, 365, len(ages))
    return (np.asarray(ref_day) - days).astype(np.int64)


def make_persons(rng: np.random.Generator, alloc: PnrAllocator, birth: np.ndarray, ages: np.ndarray) -> dict:
    """Sex, personnummer and latent health (frailty drives contacts, acg_z the ACG weight)."""
    n = len(birth)
    male = rng.random(n) < MALE_SHARE[np.clip(ages, 0, MAX_AGE)]
    return {
        "birth": birth, "male": male, "pnr": alloc.allocate(birth, male),
        "frail": rng.gamma(0.8, 1 / 0.8, n), "acg_z": rng.standard_normal(n),
    }
