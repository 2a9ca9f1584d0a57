"""Calls to the callback system (telephony.csv) of one month.

Calls per VC follow its listed count (a filial takes a share of its parent's). Each VC has its own
same-day handling level (80–95 %); the calls it does not handle the same day are queue_full,
abandoned or called back the next day.
"""
from __future__ import annotations

import numpy as np

from core import vocabulary

from . import months
from .contacts import SEASON
from .population import Population
from .units import Registry

CALLS_PER_LISTED_MONTH = 68_000 / 286_546
QUEUES = np.array(vocabulary.QUEUES, dtype=object)
QUEUE_MIX = np.array([0.45, 0.35, 0.12, 0.08])
OUTCOMES = np.array(vocabulary.CALL_OUTCOMES, dtype=object)
OPEN_FROM, OPEN_TO = 8 * 3600, 16 * 3600 + 1800   # opening hours 08:00–16:30 on weekdays


def generate_calls(pop: Population, reg: Registry, m: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, 30, m])
    start, end = months.first_day(m), months.last_day(m)
    n_days = end - start + 1
    listed = np.bincount(pop.unit[pop.present(m)], minlength=len(reg.hsa)).astype(float)
    # a filial answers ~25 % of its parent's calls
    expected = listed * CALLS_PER_LISTED_MONTH * SEASON[m % 12]
    has_filial = reg.filial_of >= 0
    expected[reg.filial_of[has_filial]] = expected[has_filial] * 0.25
    expected[has_filial] *= 0.75
    unit = np.repeat(np.arange(len(reg.hsa)), rng.poisson(expected))
    n = len(unit)

    # time of call: a morning peak, some outside opening hours and at weekends
    day = start + rng.integers(0, n_days, n)
    weekend = months.weekday(day) >= 5
    day[weekend & (rng.random(n) > 0.15)] -= 2          # most weekend calls move to Thu/Fri
    day = np.clip(day, start, end)
    weekend = months.weekday(day) >= 5
    part = rng.choice(3, size=n, p=[0.5, 0.42, 0.08])
    sec = np.select([part == 0, part == 1],
                    [rng.integers(OPEN_FROM, 10 * 3600, n), rng.integers(10 * 3600, OPEN_TO, n)],
                    np.where(rng.random(n) < 0.4, rng.integers(7 * 3600, OPEN_FROM, n),
                             rng.integers(OPEN_TO, 20 * 3600, n)))
    in_hours = ~weekend & (sec >= OPEN_FROM) & (sec < OPEN_TO)
    called = day.astype(np.int64) * 86400 + sec

    # outcome: same-day handling at the unit's level (the parent's level for a filial)
    level = reg.same_day[np.where(reg.parent[unit] >= 0, reg.parent[unit], unit)]
    miss = 1 - level
    p = np.stack([np.full(n, 0.12), level - 0.12, miss * 0.25, miss * 0.2, miss * 0.55], axis=1)
    cat = (rng.random(n)[:, None] >= np.cumsum(p, axis=1)).sum(axis=1).clip(max=4)
    # categories: 0 answered, 1 callback same day, 2 queue_full, 3 abandoned, 4 callback next day
    callback = (cat == 1) | (cat == 4)
    outcome = np.select([cat == 0, cat == 2, cat == 3], [0, 3, 4],
                        np.where(rng.random(n) < 0.08, 2, 1))
    same_day_delay = np.minimum(rng.integers(120, 4 * 3600, n), np.maximum(120, OPEN_TO + 3600 - sec))
    same_day_delay = np.minimum(same_day_delay, 86399 - sec)
    next_day = (day.astype(np.int64) + 1) * 86400 + rng.integers(OPEN_FROM, 12 * 3600, n)
    callback_at = np.where(cat == 1, called + same_day_delay, np.where(cat == 4, next_day, -1))
    callback_at[~callback] = -1

    order = np.argsort(called, kind="stable")
    return {
        "unit": unit[order], "called_at": called[order], "queue": _pick(rng, n, QUEUE_MIX)[order],
        "outcome": outcome[order], "callback_at": callback_at[order], "in_hours": in_hours[order],
        "call_id": np.arange(n),
    }


def _pick(rng, n: int, p: np.ndarray) -> np.ndarray:
    return (rng.random(n)[:, None] >= np.cumsum(p)).sum(axis=1).clip(max=len(p) - 1)
