"""The listing register: the initial state and its month-to-month evolution.

Each month (in this order): deaths and out-movers leave; newborns and in-movers arrive and are
listed `passiv`; some residents actively change VC (`aktiv`, listed_from in the month), including a
few "hoppers" who change every few months and a wave towards the VC that opens in the range;
SÄBO places are refilled; named GPs come and go. The snapshot is the state at month end.
"""
from __future__ import annotations

import numpy as np

from . import months
from .population import (
    AGES,
    BIRTHS_PER_YEAR,
    GOMPERTZ_B,
    IN_MOVERS_PER_YEAR,
    MIGRATION_AGE,
    NEVER,
    PYRAMID,
    Deso,
    PnrAllocator,
    Population,
    birth_dates,
    draw_deso,
    make_persons,
    mortality_scale,
    municipality_population,
    out_migration_scale,
    sample_ages,
)
from .units import MUNI_CODES, N_MUNI, N_UNITS, NEIGHBOUR_SHARES, UNITS, Registry

SABO_PER_SCALE = 2500          # SÄBO residents region-wide at scale 1
SABO_AGE_WEIGHT = np.interp(AGES, [0, 60, 65, 75, 80, 85, 90, 105], [0, 0.0003, 0.002, 0.01, 0.03, 0.07, 0.16, 0.3])
CHANGE_RATE = 0.005            # active changes of VC per resident and month
# Named GP (fast läkare), monthly gain and loss: equilibrium 79 % of all listed and 96 % of SÄBO
# residents (the seed region's shares), the shares the initial population starts from.
FAST_LAKARE_GAIN, FAST_LAKARE_LOSS = 0.015, 0.004
FAST_LAKARE_GAIN_SABO = 0.096
FAST_LAKARE_SHARE, FAST_LAKARE_SHARE_SABO = 0.79, 0.96


def choose(rng: np.random.Generator, weights: np.ndarray, group: np.ndarray) -> np.ndarray:
    """One column per row of `group`, drawn from weights[group] (rows need a positive sum)."""
    rows, k = weights.shape
    cum = np.cumsum(weights, axis=1)
    cum = cum / cum[:, -1:]   # exactly 1.0 from the last positive weight on
    flat = (np.arange(rows)[:, None] + cum).ravel()
    pick = np.searchsorted(flat, group + rng.random(len(group)) * (1 - 1e-12), side="right")
    return pick - group * k


def _open_vc(reg: Registry, day: int) -> np.ndarray:
    """Local units that are VCs open on `day` and taking listings after it (a VC closing on `day`
    is not); the structure is the same in every copy."""
    return (reg.unit_type[:N_UNITS] == "vardcentral") & (reg.opened[:N_UNITS] <= day) & (reg.closed[:N_UNITS] > day)


def passive_weights(reg: Registry, day: int) -> np.ndarray:
    """Where newborns and new residents are assigned: VCs of their municipality by size."""
    w = np.zeros((N_MUNI, N_UNITS))
    muni_local = reg.muni[:N_UNITS] % N_MUNI
    share = np.where(np.arange(N_UNITS) == reg.new_unit, 0.1, reg.share[:N_UNITS])
    w[muni_local, np.arange(N_UNITS)] = share
    for no, shares in NEIGHBOUR_SHARES.items():
        unit = [u[0] for u in UNITS].index(no)
        for code, s in shares.items():
            w[MUNI_CODES.index(code), unit] = s
    return w * _open_vc(reg, day)[None, :]


def change_weights(reg: Registry, m: int) -> np.ndarray:
    """Destinations of active changes: mostly within the municipality, some anywhere."""
    end = months.last_day(m)
    w = passive_weights(reg, end) * 20 + 0.02 * _open_vc(reg, end)[None, :]
    if reg.cap_from <= end and reg.cap_to >= months.first_day(m):
        w[:, reg.cap_unit] *= 0.25   # the cap holds most new listings back, not all
    return w


def _pick_unit(rng, reg: Registry, weights: np.ndarray, muni: np.ndarray) -> np.ndarray:
    copy, local_muni = muni // N_MUNI, muni % N_MUNI
    return copy * N_UNITS + choose(rng, weights, local_muni)


def _listing_attrs(rng, reg: Registry, unit: np.ndarray, fl_share: float) -> dict:
    n = len(unit)
    return {
        "unit": unit, "fl": rng.random(n) < fl_share,
        "pref_doc": rng.integers(0, reg.staff_n[unit, 0]),
        "pref_nurse": rng.integers(0, reg.staff_n[unit, 1]),
    }


def initial_population(reg: Registry, deso: Deso, alloc: PnrAllocator, m0: int, seed: int) -> Population:
    """Residents at the end of month m0 - 1, all listed."""
    rng = np.random.default_rng([seed, 4])
    per_muni = np.tile(municipality_population(reg.copy_scale), reg.n_copies)
    muni = rng.permutation(np.repeat(np.arange(len(per_muni)), per_muni))
    n = len(muni)
    ref = months.first_day(m0) - 1
    ages = sample_ages(rng, n)
    birth = birth_dates(rng, ages, ref)
    person = make_persons(rng, alloc, birth, ages)
    unit = _pick_unit(rng, reg, passive_weights(reg, ref), muni)
    listed_from = ref - np.floor(rng.exponential(6 * 365, n)).astype(np.int64)
    listed_from = np.maximum(np.maximum(listed_from, birth), reg.opened[unit])
    sabo_p = SABO_AGE_WEIGHT[ages] * SABO_PER_SCALE * reg.copy_scale * reg.n_copies / SABO_AGE_WEIGHT[ages].sum()
    sabo = rng.random(n) < sabo_p
    attrs = _listing_attrs(rng, reg, unit, FAST_LAKARE_SHARE)
    sabo_extra = (FAST_LAKARE_SHARE_SABO - FAST_LAKARE_SHARE) / (1 - FAST_LAKARE_SHARE)
    attrs["fl"] |= sabo & (rng.random(n) < sabo_extra)      # nearly all SÄBO residents have a named GP
    hopper = np.zeros(n, dtype=bool)
    hopper[rng.choice(n, size=max(3, n // 10000), replace=False)] = True
    pop = Population()
    pop.append(**person, **attrs, muni=muni, deso=draw_deso(rng, deso, muni),
               listed_from=listed_from, aktiv=rng.random(n) < np.where(ages >= 18, 0.7, 0.3),
               sabo=sabo, entry=np.full(n, m0 - 1), exit=np.full(n, NEVER), hopper=hopper)
    return pop


def step(pop: Population, reg: Registry, deso: Deso, alloc: PnrAllocator, m: int, seed: int) -> None:
    """Advance the register from the end of month m - 1 to the end of month m."""
    rng = np.random.default_rng([seed, 10, m])
    start, end = months.first_day(m), months.last_day(m)
    n_days = end - start + 1
    total_scale = reg.copy_scale * reg.n_copies

    stay = np.flatnonzero(pop.present(m - 1))
    ages = np.minimum(months.age_on(pop.birth[stay], start), AGES[-1])
    q_year = np.minimum(0.6, mortality_scale() * np.exp(GOMPERTZ_B * ages)) * np.where(pop.sabo[stay], 3.0, 1.0)
    p_leave = 1 - (1 - np.minimum(q_year, 0.9)) ** (1 / 12)
    p_leave += np.where(pop.sabo[stay], 0, MIGRATION_AGE[ages] * out_migration_scale() / 12)
    leaving = rng.random(len(stay)) < p_leave
    pop.exit[stay[leaving]] = m
    stay = stay[~leaving]

    _arrivals(pop, reg, deso, alloc, rng, m, total_scale)
    _active_changes(pop, reg, rng, m, stay, start, n_days)
    _closures(pop, reg, rng, m, start, n_days)

    # SÄBO: refill places freed by deaths, mostly with the very old
    now = np.flatnonzero(pop.present(m))
    need = SABO_PER_SCALE * total_scale - int(pop.sabo[now].sum())
    if need > 0:
        cand = now[~pop.sabo[now]]
        w = SABO_AGE_WEIGHT[np.minimum(months.age_on(pop.birth[cand], end), AGES[-1])]
        new = cand[rng.random(len(cand)) < need * w / w.sum()]
        pop.sabo[new] = True
        pop.fl[new] |= rng.random(len(new)) < 0.9

    # named GPs: doctors leave and patients get new ones
    r = rng.random(len(stay))
    fl = pop.fl[stay]
    gain = np.where(pop.sabo[stay], FAST_LAKARE_GAIN_SABO, FAST_LAKARE_GAIN)
    pop.fl[stay] = np.where(fl, r >= FAST_LAKARE_LOSS, r < gain)


def _arrivals(pop, reg, deso, alloc, rng, m, total_scale) -> None:
    start, end = months.first_day(m), months.last_day(m)
    n_days = end - start + 1
    pop_w = np.tile(municipality_population(1.0), reg.n_copies).astype(float)
    w = passive_weights(reg, end)
    n_births = rng.poisson(BIRTHS_PER_YEAR / 12 * total_scale)
    n_in = rng.poisson(IN_MOVERS_PER_YEAR / 12 * total_scale)
    # newborns: born in the month, listed passiv from birth
    born = start + rng.integers(0, n_days, n_births)
    # in-movers: arrive on a day in the month, listed passiv from that day
    moved = start + rng.integers(0, n_days, n_in)
    in_ages = sample_ages(rng, n_in, PYRAMID * MIGRATION_AGE)
    in_birth = np.minimum(birth_dates(rng, in_ages, moved), moved)
    birth = np.concatenate([born, in_birth])
    ages = np.concatenate([np.zeros(n_births, dtype=np.int64), in_ages])
    listed_from = np.concatenate([born, moved])
    n = len(birth)
    if n == 0:
        return
    muni = rng.choice(len(pop_w), size=n, p=pop_w / pop_w.sum())
    unit = _pick_unit(rng, reg, w, muni)
    pop.append(**make_persons(rng, alloc, birth, ages), **_listing_attrs(rng, reg, unit, 0.55),
               muni=muni, deso=draw_deso(rng, deso, muni), listed_from=np.maximum(listed_from, reg.opened[unit]),
               aktiv=np.zeros(n, dtype=bool), sabo=np.zeros(n, dtype=bool), entry=np.full(n, m),
               exit=np.full(n, NEVER), hopper=np.zeros(n, dtype=bool))


def _active_changes(pop, reg, rng, m, stay, start, n_days) -> None:
    p = np.where(pop.hopper[stay], 0.4, CHANGE_RATE)
    # the VC that opens in the range draws a wave of listings from its own and the neighbour town
    since_open = m - months.month_index(months.iso(reg.opened[reg.new_unit])[:7])
    wave = {0: 0.04, 1: 0.02, 2: 0.01}.get(since_open, 0.0)
    local_muni = pop.muni[stay] % N_MUNI
    to_new = (rng.random(len(stay)) < wave * np.isin(local_muni, [0, 1])) & ~pop.sabo[stay]
    moving = (rng.random(len(stay)) < p) | to_new
    who, to_new = stay[moving], to_new[moving]
    dest = _pick_unit(rng, reg, change_weights(reg, m), pop.muni[who])
    dest = np.where(to_new, (pop.muni[who] // N_MUNI) * N_UNITS + reg.new_unit, dest)
    changed = dest != pop.unit[who]
    who, dest = who[changed], dest[changed]
    attrs = _listing_attrs(rng, reg, dest, 0.7)
    for k, v in attrs.items():
        pop.cols[k][who] = v
    pop.listed_from[who] = np.maximum(start + rng.integers(0, n_days, len(who)), reg.opened[dest])
    pop.aktiv[who] = True


def _closures(pop, reg: Registry, rng, m, start, n_days) -> None:
    """Persons listed at a VC that closes in month m are listed (passiv) at another VC of their
    municipality during the month: the closing VC ends the month with no one listed."""
    end = start + n_days - 1
    closing = np.flatnonzero((reg.closed >= start) & (reg.closed <= end))
    if len(closing) == 0:
        return
    who = np.flatnonzero(pop.present(m) & np.isin(pop.unit, closing))
    dest = _pick_unit(rng, reg, passive_weights(reg, end), pop.muni[who])
    for k, v in _listing_attrs(rng, reg, dest, FAST_LAKARE_SHARE).items():
        pop.cols[k][who] = v
    pop.listed_from[who] = start + rng.integers(0, n_days, len(who))
    pop.aktiv[who] = False


def snapshot_index(pop: Population, m: int) -> np.ndarray:
    """Persons listed at the end of month m, in stable person order."""
    return np.flatnonzero(pop.present(m))
