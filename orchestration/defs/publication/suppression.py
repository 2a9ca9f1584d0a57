"""Complementary suppression of the open-data export (SPEC §7).

A cell below `min_cell` is suppressed (`is_suppressed`, set by the indicators mart). Where cells
add up to a published total, one suppressed cell alone in its group could be worked out by
subtraction (REGION barnmorska: all 60/76, female 54/69, so male is 6/7). So where exactly one
cell of a group is suppressed, the smallest other cell of the group is suppressed too, and this
repeats until no group has exactly one suppressed cell. The groups, taken in this order on each
round:

- female and male under `all` (per month, VC, indicator and profession),
- the professions under `all` (per month, VC, indicator and sex),
- the VCs under `REGION` (per month, indicator, sex and profession).

"Smallest": by denominator for a cell that has one (shares, means, ratios), by value for a
count (no denominator); ties by the group's code or HSA-id. A count without a value is never
chosen; the total itself (`all`, `REGION`) is not a member, so whether it is suppressed does not
matter; `listed_per_named_gp` is in no group.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REGION, ALL = "REGION", "all"
NOT_GROUPED = ("listed_per_named_gp",)
CELL_KEYS = ["month", "vardcentral_hsa_id", "indicator_code", "sex", "profession"]

# (members of the group, what a group shares, the member's own code for ties)
_GROUPS = (
    (lambda c: c["sex"].isin(["female", "male"]), ["vardcentral_hsa_id", "indicator_code", "profession"], "sex"),
    (lambda c: c["profession"] != ALL, ["vardcentral_hsa_id", "indicator_code", "sex"], "profession"),
    (lambda c: c["vardcentral_hsa_id"] != REGION, ["indicator_code", "sex", "profession"], "vardcentral_hsa_id"),
)


def complementary_suppression(cells: pd.DataFrame) -> pd.Series:
    """`is_suppressed` after complementary suppression, aligned with `cells`.

    `cells`: one row per published cell with vardcentral_hsa_id, indicator_code, sex,
    profession, numerator, denominator, value, is_suppressed (and month, if several)."""
    suppressed = cells["is_suppressed"].fillna(False).to_numpy(dtype=bool).copy()
    is_count = cells["denominator"].isna().to_numpy()
    size = np.where(is_count, cells["value"].to_numpy(dtype=float, na_value=np.nan),
                    cells["denominator"].to_numpy(dtype=float, na_value=np.nan))
    choosable = ~(is_count & np.isnan(size))
    grouped = ~cells["indicator_code"].isin(NOT_GROUPED).to_numpy()
    month = ["month"] if "month" in cells.columns else []
    # each key as integer codes in sorted order (ties go by code or HSA-id)
    codes = {key: pd.factorize(cells[key].astype("string"), sort=True)[0]
             for key in [*month, *CELL_KEYS[1:]]}
    groups = [_Group(codes, grouped & member(cells).to_numpy(), month + shared, tie, size)
              for member, shared, tie in _GROUPS]
    changed = True
    while changed:
        changed = False
        for group in groups:
            picked = group.smallest_other_where_one_is_suppressed(suppressed, choosable)
            if len(picked):
                suppressed[picked] = True
                changed = True
    return pd.Series(suppressed, index=cells.index, name="is_suppressed")


class _Group:
    """One kind of group: its members (row positions) ordered by group, then size, then tie
    (the order never changes; only which cells are suppressed does)."""

    def __init__(self, codes: dict[str, np.ndarray], members: np.ndarray, shared: list[str],
                 tie: str, size: np.ndarray):
        rows = np.flatnonzero(members)
        keys = [codes[key][rows] for key in shared]
        group_id = (np.ravel_multi_index(keys, [int(codes[key].max()) + 1 for key in shared])
                    if len(rows) else rows)
        group_id = np.unique(group_id, return_inverse=True)[1].astype(np.int64)
        size_rank = np.unique(np.nan_to_num(size[rows], nan=np.inf), return_inverse=True)[1]
        tie_code = codes[tie][rows].astype(np.int64)
        # one integer key (group, size, tie): an argsort of it is lexsort's order, faster
        key = (group_id * (int(size_rank.max(initial=0)) + 1) + size_rank) \
            * (int(tie_code.max(initial=0)) + 1) + tie_code
        order = np.argsort(key, kind="stable")
        self.rows, self.group_id = rows[order], group_id[order]
        self.n_groups = int(group_id.max()) + 1 if len(rows) else 0

    def smallest_other_where_one_is_suppressed(self, suppressed: np.ndarray, choosable: np.ndarray
                                               ) -> np.ndarray:
        if not len(self.rows):
            return self.rows
        hidden = suppressed[self.rows]
        lonely = np.bincount(self.group_id, weights=hidden, minlength=self.n_groups) == 1
        candidate = lonely[self.group_id] & ~hidden & choosable[self.rows]
        ids = self.group_id[candidate]
        _, first = np.unique(ids, return_index=True)   # sorted: the smallest of each group
        return self.rows[candidate][first]


def register_open_cells(con, parquet: Path, name: str = "open_cells") -> str:
    """A view `name` over a month's indicators_monthly Parquet with `is_suppressed` after
    complementary suppression (the columns, their types and order as in the file)."""
    source = f"read_parquet('{Path(parquet)}')"
    cells = con.execute(f"select {', '.join(CELL_KEYS)}, numerator, denominator, value, is_suppressed "
                        f"from {source}").df()
    added = cells.loc[complementary_suppression(cells).to_numpy() & ~cells["is_suppressed"].fillna(False)
                      .to_numpy(dtype=bool), CELL_KEYS].astype("string")
    con.register(f"{name}_complementary", added.assign(complementary=True))
    joined = " and ".join(f"p.{k} is not distinct from c.{k}" for k in CELL_KEYS)
    con.execute(f"create or replace temp view {name} as select p.* replace "
                f"(p.is_suppressed or coalesce(c.complementary, false) as is_suppressed) "
                f"from {source} p left join {name}_complementary c on {joined}")
    return name
