"""Contacts (visits.csv) of one month.

Each resident present the whole month gets a Poisson number of contacts whose rate rises with age,
SÄBO and a stable personal frailty, times a seasonal factor. Most contacts are at the person's own
VC with their preferred doctor/nurse (so continuity is realistic); some are at the VC's filial, the
jour, the digital unit or another VC. Non-residents (samordningsnummer, reserve numbers, visiting
skiers) add a few per cent.
"""
from __future__ import annotations

import numpy as np

from core import vocabulary

from . import months
from .listing import change_weights, choose
from .population import MAX_AGE, Population, coordination_pnr, visitor_pnr
from .units import N_MUNI, N_UNITS, PROFESSIONS, Registry

CONTACTS_PER_MONTH = 100_000     # at scale 1, all statuses
NON_RESIDENT_SHARE = 0.025
# Jan..Dec: winter infections up, July holidays down
SEASON = np.array([1.14, 1.12, 1.08, 1.0, 0.98, 0.92, 0.62, 0.88, 1.05, 1.08, 1.1, 0.93])
SEASON = SEASON / SEASON.mean()
AGE_RATE = np.interp(np.arange(MAX_AGE + 1), [0, 1, 2, 6, 7, 19, 20, 39, 40, 64, 65, 74, 75, 84, 85, 105],
                     [8, 8, 4.5, 4, 2.2, 2.2, 3, 3, 3.6, 3.8, 5.5, 5.8, 8, 8.5, 11, 11])

# besok, telefon, video, chatt, hembesok: the order of the mixes below
CONTACT_TYPES = np.array(vocabulary.CONTACT_TYPES, dtype=object)[[0, 2, 3, 4, 1]]
TYPE_MIX = {  # by kind of unit
    "vc": [0.585, 0.255, 0.065, 0.06, 0.035],
    "jour": [0.92, 0.08, 0, 0, 0],
    "digital": [0, 0.12, 0.36, 0.52, 0],
}
PROF_MIX = {
    "vc": [0.39, 0.35, 0.09, 0.02, 0.03, 0.03, 0.01, 0.02, 0.01, 0.05],
    "jour": [0.72, 0.28, 0, 0, 0, 0, 0, 0, 0, 0],
    "digital": [0.46, 0.40, 0.05, 0, 0.06, 0.03, 0, 0, 0, 0],
}
STATUSES = np.array(vocabulary.STATUSES, dtype=object)
STATUS_MIX = [0.92, 0.03, 0.05]
WAIT_3D = np.array([0.45, 0.25, 0.17, 0.13])   # waits 0..3 days among those within 3 days


def _draw(rng, mix_rows: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Category per element, drawn from mix_rows[row] (a small table of distributions)."""
    cum = np.cumsum(mix_rows, axis=1)
    cum /= cum[:, -1:]
    r = rng.random(len(row))
    return (r[:, None] >= cum[row]).sum(axis=1).clip(max=mix_rows.shape[1] - 1)


def _days(rng, start: int, n_days: int, n: int, weekend_weight: np.ndarray) -> np.ndarray:
    """Days in the month, weekends down-weighted by weekend_weight (per element)."""
    days = start + np.arange(n_days)
    is_weekend = months.weekday(days) >= 5
    day = start + rng.integers(0, n_days, n)
    # rejection once, then accept: keeps weekend share ≈ weight without a loop
    redraw = months.weekday(day) >= 5
    redraw &= rng.random(n) >= weekend_weight
    weekdays = days[~is_weekend]
    day[redraw] = weekdays[rng.integers(0, len(weekdays), int(redraw.sum()))]
    return day


def female_factor(male: np.ndarray, ages: np.ndarray) -> np.ndarray:
    """Women seek primary care more than men, most in the fertile and working ages (national
    statistics: about a quarter more contacts overall)."""
    return np.where(male, 1.0, np.where((ages >= 15) & (ages <= 64), 1.4, 1.1))


def generate_contacts(pop: Population, reg: Registry, m: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, 20, m])
    start, end = months.first_day(m), months.last_day(m)
    n_days = end - start + 1
    season = SEASON[m % 12]

    # residents present all month (arrivals join next month)
    who = np.flatnonzero(pop.present(m) & (pop.entry < m))
    ages = np.minimum(months.age_on(pop.birth[who], end), MAX_AGE)
    sabo = pop.sabo[who]
    lam = AGE_RATE[ages] * pop.frail[who] * np.where(sabo, 2.5, 1.0) * female_factor(pop.male[who], ages)
    target = CONTACTS_PER_MONTH * (1 - NON_RESIDENT_SHARE) * season * reg.copy_scale * reg.n_copies
    lam *= target / lam.sum()
    counts = rng.poisson(lam)
    person = np.repeat(who, counts)
    age = np.repeat(ages, counts)
    sabo = np.repeat(sabo, counts)
    own = pop.unit[person]
    n = len(person)

    # where: own VC, its filial, jour, digital or another VC
    leak = reg.leak[own]
    has_filial = reg.filial_of[own] >= 0
    p = np.stack([np.where(has_filial, 0.3, 0.0), np.full(n, 0.028), np.full(n, 0.06) * (~sabo),
                  0.04 * leak], axis=1)
    where = _draw(rng, np.column_stack([1 - p.sum(axis=1), p]), np.arange(n))
    copy_base = (own // N_UNITS) * N_UNITS
    jour = int(np.flatnonzero(reg.unit_type[:N_UNITS] == "jour")[0])
    digital = int(np.flatnonzero(reg.unit_type[:N_UNITS] == "digital")[0])
    other = _other_vc(rng, reg, own, m)
    unit = np.select([where == 1, where == 2, where == 3, where == 4],
                     [reg.filial_of[own], copy_base + jour, copy_base + digital, other], own)
    c = _describe(rng, reg, unit, person, age, sabo, pop, own, start, n_days)

    # non-residents: mostly at the jour and at the ski-resort units in season
    n_nr = rng.poisson(CONTACTS_PER_MONTH * NON_RESIDENT_SHARE * season * reg.copy_scale * reg.n_copies)
    nr_unit = _non_resident_units(rng, reg, m, n_nr)
    nr = _describe(rng, reg, nr_unit, np.full(n_nr, -1), rng.integers(18, 80, n_nr),
                   np.zeros(n_nr, dtype=bool), pop, None, start, n_days)
    ident = _non_resident_ids(rng, n_nr, end)

    out = {k: np.concatenate([c[k], nr[k]]) for k in c}
    pnr = np.concatenate([pop.pnr[person], ident["pnr"]])
    reserve = np.concatenate([np.full(n, None, dtype=object), ident["reserve"]])
    order = np.lexsort((out["unit"], out["contact_date"]))   # exports come sorted by date
    out = {k: v[order] for k, v in out.items()}
    out["pnr"], out["reserve"] = pnr[order], reserve[order]
    out["contact_id"] = np.arange(len(order))
    return out


def _other_vc(rng, reg: Registry, own: np.ndarray, m: int) -> np.ndarray:
    """Another open VC of the same region copy, likely in the same municipality."""
    pick = choose(rng, change_weights(reg, m), reg.muni[own] % N_MUNI)
    return (own // N_UNITS) * N_UNITS + pick


def _non_resident_units(rng, reg: Registry, m: int, n: int) -> np.ndarray:
    local = np.arange(N_UNITS)
    kind = reg.unit_type[:N_UNITS]
    ski = m % 12 in (0, 1, 2, 11, 6)
    w = np.where(kind == "jour", 6.0, np.where(kind == "digital", 2.0, 0.5))
    w = w + np.where((reg.tier[:N_UNITS] >= 2) & (kind != "jour"), 4.0 if ski else 1.0, 0.0)
    w = w * (reg.opened[:N_UNITS] <= months.first_day(m)) * (reg.closed[:N_UNITS] >= months.first_day(m))
    local_pick = rng.choice(local, size=n, p=w / w.sum())
    return rng.integers(0, reg.n_copies, n) * N_UNITS + local_pick


def _non_resident_ids(rng, n: int, ref_day: int) -> dict:
    """40 % visitors' personnummer, 35 % samordningsnummer, 25 % local reserve numbers."""
    kind = rng.choice(3, size=n, p=[0.4, 0.35, 0.25])
    pnr = np.zeros(n, dtype=np.int64)
    pnr[kind == 0] = visitor_pnr(rng, int((kind == 0).sum()), ref_day)
    pnr[kind == 1] = coordination_pnr(rng, int((kind == 1).sum()), ref_day)
    reserve = np.full(n, None, dtype=object)
    numbers = rng.integers(1, 10**6, int((kind == 2).sum()))
    reserve[kind == 2] = np.array([f"R{x:08d}" for x in numbers], dtype=object)
    return {"pnr": pnr, "reserve": reserve}


def _describe(rng, reg: Registry, unit, person, age, sabo, pop: Population, own, start, n_days) -> dict:
    """Type, profession, caregiver, status, date and first-assessment fields of each contact."""
    n = len(unit)
    utype = reg.unit_type[unit]
    kind = np.where(utype == "jour", 1, np.where(utype == "digital", 2, 0))
    tmix = np.array([TYPE_MIX["vc"], TYPE_MIX["jour"], TYPE_MIX["digital"],
                     [0.42, 0.15, 0.03, 0, 0.4],     # SÄBO resident at a VC: many home visits
                     [0.58, 0.27, 0.03, 0.04, 0.08]])  # 80+ at home
    trow = np.where((kind == 0) & sabo, 3, np.where((kind == 0) & (age >= 80), 4, kind))
    ctype = _draw(rng, tmix, trow)
    pmix = np.array([PROF_MIX["vc"], PROF_MIX["jour"], PROF_MIX["digital"]])
    prof = _draw(rng, pmix, kind)
    midwife = PROFESSIONS.index("barnmorska")
    male = pop.male[person] & (person >= 0)
    prof[(prof == midwife) & (male | (age < 16) | (age > 55))] = 1  # only women see a midwife

    # caregiver: the person's own doctor/nurse at their VC with probability p_cont (higher with a
    # named GP), otherwise anyone of that profession at the unit
    n_staff = reg.staff_n[unit, prof]
    staff = rng.integers(0, n_staff)
    if own is not None:
        at_own = unit == own
        p_keep = reg.p_cont[unit] + np.where(pop.fl[person], 0.15, -0.2)
        keep = at_own & (rng.random(n) < p_keep)
        staff = np.where(keep & (prof == 0), pop.pref_doc[person] % n_staff, staff)
        staff = np.where(keep & (prof == 1), pop.pref_nurse[person] % n_staff, staff)
    staff_idx = reg.staff_off[unit, prof] + staff
    staff_idx[rng.random(n) < np.where(prof == len(PROFESSIONS) - 1, 0.3, 0.015)] = -1

    weekend_w = np.where(kind > 0, 1.0, 0.04)
    day = _days(rng, start, n_days, n, weekend_w)
    status = _draw(rng, np.array([STATUS_MIX]), np.zeros(n, dtype=np.int64))
    new_problem = rng.random(n) < np.where(kind == 1, 0.85, np.where(kind == 2, 0.6, 0.28))
    within = rng.random(n) < reg.q3[unit]
    wait = np.where(within, _draw(rng, WAIT_3D[None, :], np.zeros(n, dtype=np.int64)),
                    rng.integers(4, 15, n))
    chose_later = rng.random(n) < np.where(new_problem, 0.06, 0.01)
    return {
        "unit": unit, "contact_date": day, "ctype": ctype, "prof": prof, "staff": staff_idx,
        "status": status, "new_problem": new_problem,
        "first_contact_date": np.where(new_problem, day - wait, -1), "chose_later": chose_later,
    }
