"""indicator_catalog and targets (SPEC §7) on the hand-made marts fixture: published with each
month's version from their one home (raw.indicator_catalogue, the model's goals and follow-up
targets), described like every table, readable from a copy, and republished only when they change."""
from __future__ import annotations

import csv
import shutil

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from core.indicator_catalogue import catalogue
from orchestration.defs.publication.gate import month_fingerprint, record_checks
from orchestration.defs.publication.publisher import publish_month
from tests.marts_fixture import GOALS, build_marts_warehouse, execute, target_rows
from validations.outcome import CheckOutcome

OK = [CheckOutcome("components_sum_to_total", "marts.reimbursement_monthly", True, True, "fine.", {})]
TARGET_COLUMNS = ("model_version_id, target_kind, target_order, indicator_code, profession, direction, "
                  "is_paying, payout, low, high, sek_per_listed_month")


def _publish(w, d, month):
    record_checks(d, month, month_fingerprint(w, month), OK)
    return publish_month(w, d, month, input_checksums={}, check_outcomes=OK, code_version="test")


def _read(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def wh(tmp_path):
    data = tmp_path / "data"
    return build_marts_warehouse(data), data


def test_catalog_and_targets_come_from_their_home_described_and_readable_from_a_copy(wh, tmp_path):
    w, d = wh
    # the fixture's own targets: not the shipped default model's goals
    execute(w, "update marts.targets set high = 0.77 where target_kind = 'goal' and target_order = 1")
    for month in ("2025-01", "2025-02"):
        _publish(w, d, month)
    copy = tmp_path / "share" / "published"
    shutil.copytree(d / "published", copy)
    (d / "published").rename(d / "published.hidden")   # nothing may read the original
    db = copy / "published.duckdb"

    codes = _read(db, "select indicator_code, name_sv, value_kind, window_months from indicator_catalog "
                      "order by indicator_code")
    shipped = catalogue().sort_values("indicator_code")
    assert codes == [(c, n, k, None if pd.isna(months) else int(months)) for c, n, k, months in
                     shipped[["indicator_code", "name_sv", "value_kind", "window_months"]].itertuples(index=False)]
    targets = _read(db, f"select {TARGET_COLUMNS} from targets order by target_kind desc, target_order")
    assert [t[:4] for t in targets] == [(1, "goal", order, code) for order, code, *_ in GOALS] \
        + [(1, "follow_up", 1, "fast_lakare_share")]
    assert targets[0][9] == 0.77 and targets[0][6] is True and targets[-1][6] is False
    assert pq.read_table(copy / "targets" / "data.parquet").num_rows == len(target_rows())
    assert pq.read_table(copy / "indicator_catalog" / "data.parquet").num_rows == len(shipped)

    # every column described, in the file and in the dictionary beside it
    comments = _read(db, "select table_name, column_name, comment from duckdb_columns() "
                         "where table_name in ('indicator_catalog', 'targets')")
    assert len(comments) == 12 + 12 and all(c for _, _, c in comments), comments
    assert all(c for (c,) in _read(db, "select comment from duckdb_tables() "
                                       "where table_name in ('indicator_catalog', 'targets')"))
    with (copy / "dictionary.csv").open(encoding="utf-8") as f:
        described = {(r["table"], r["column"]) for r in csv.DictReader(f) if r["description"]}
    assert {(t, c) for t, c, _ in comments} <= described


def test_a_changed_target_is_a_new_version_and_a_model_version_no_month_uses_is_not(wh):
    w, d = wh
    assert _publish(w, d, "2025-02").version == 1
    # a model version from 2025-03, ending the one before, does not change February: nothing to republish
    execute(w, "insert into marts.targets select * replace (2 as model_version_id, date '2025-03-01' as "
               "model_valid_from, 0.95 as high) from marts.targets where model_version_id = 1",
            "insert into raw.model_versions select * replace (2 as version_id, date '2025-03-01' as valid_from) "
            "from raw.model_versions where version_id = 1",
            "update raw.model_versions set valid_to = date '2025-02-28' where version_id = 1")
    again = _publish(w, d, "2025-02")
    assert (again.version, again.is_new_version) == (1, False)
    # a follow-up target of February's model version changes: version 2, its diff names the table
    execute(w, "update marts.targets set high = 0.85 where model_version_id = 1 and target_kind = 'follow_up'")
    second = _publish(w, d, "2025-02")
    assert (second.version, second.is_new_version) == (2, True)
    assert "| targets | 3 | 3 | 1 |" in second.diff_markdown
    assert "| indicator_catalog |" in second.diff_markdown
    db = d / "published" / "published.duckdb"
    assert _read(db, "select distinct model_version_id from targets") == [(1,)]
    assert _read(db, "select high from targets where target_kind = 'follow_up'") == [(0.85,)]


def test_a_version_from_before_these_tables_gets_them_with_the_next_version(wh):
    w, d = wh
    _publish(w, d, "2025-01")
    _publish(w, d, "2025-02")
    for month in ("2025-01", "2025-02"):   # as code that did not publish them wrote the versions
        for table in ("indicator_catalog", "targets"):
            (d / "published" / "versions" / month / "v0001" / f"{table}.parquet").unlink()
    execute(w, "update marts.targets set high = 0.85 where target_kind = 'follow_up'")
    second = _publish(w, d, "2025-02")
    assert second.version == 2 and "| targets | — | 3 | ny tabell |" in second.diff_markdown
    db = d / "published" / "published.duckdb"
    assert _read(db, "select count(*) from targets") == [(3,)]
    assert _read(db, "select count(*) from indicator_catalog") == [(len(catalogue()),)]
