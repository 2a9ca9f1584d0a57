"""Gate and versioned publication on the hand-made marts fixture (no dbt, no Great Expectations)."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from core.published_tables import PUBLISHED_TABLES
from orchestration.defs.publication.gate import (
    PublicationRefused,
    assert_may_publish,
    load_check_record,
    month_fingerprint,
    record_checks,
)
from orchestration.defs.publication.layout import read_catalog
from orchestration.defs.publication.publisher import publish_month
from sources.personnummer import luhn_check_digit
from tests.marts_fixture import VC_B, build_marts_warehouse, execute
from validations.outcome import CheckOutcome

OK = [CheckOutcome("components_sum_to_total", "marts.reimbursement_monthly", True, True, "fine.", {})]
BAD = [*OK, CheckOutcome("shares_within_unit_interval", "marts.indicators_monthly", False, True,
                         "1 share indicator rows lie outside [0, 1].", {})]


def _checked_publish(w: Path, d: Path, month: str, outcomes=OK):
    record_checks(d, month, month_fingerprint(w, month), outcomes)
    return publish_month(w, d, month, input_checksums={f"{month}/listing.csv": "ab" * 32},
                         check_outcomes=outcomes, code_version="test")


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".publish.lock"}


def _correct(w: Path, sek: float = 100.0) -> None:
    execute(w, f"update marts.reimbursement_monthly set capitation = capitation + {sek}, total = total + {sek} "
               f"where month = '2025-02' and vardcentral_hsa_id = '{VC_B}'",
            f"update marts.reimbursement_person_monthly set capitation = capitation + {sek} "
            f"where month = '2025-02' and person_key = (select min(person_key) from marts.reimbursement_person_monthly "
            f"where month = '2025-02' and vardcentral_hsa_id = '{VC_B}')")


@pytest.fixture
def wh(tmp_path):
    data = tmp_path / "data"
    return build_marts_warehouse(data), data


def test_gate_refuses_without_record_and_after_content_changes(wh):
    w, d = wh
    fp = month_fingerprint(w, "2025-02")
    assert fp == month_fingerprint(w, "2025-02") and len(fp) == 64
    with pytest.raises(PublicationRefused, match="no checks have been run"):
        assert_may_publish(d, "2025-02", fp)
    record_checks(d, "2025-02", fp, OK)
    assert assert_may_publish(d, "2025-02", fp)["passed"]
    assert load_check_record(d, "2025-02")["fingerprint"] == fp
    _correct(w)
    fp2 = month_fingerprint(w, "2025-02")
    assert fp2 != fp
    with pytest.raises(PublicationRefused, match="changed after its checks ran"):
        assert_may_publish(d, "2025-02", fp2)
    with pytest.raises(PublicationRefused, match="changed after its checks ran"):
        publish_month(w, d, "2025-02", input_checksums={}, check_outcomes=OK, code_version="t")
    record_checks(d, "2025-02", fp2, BAD)
    with pytest.raises(PublicationRefused, match="shares_within_unit_interval"):
        assert_may_publish(d, "2025-02", fp2)
    assert not (d / "published" / "catalog.json").exists()


def test_failing_check_publishes_nothing_and_keeps_previous_version(wh):
    w, d = wh
    first = _checked_publish(w, d, "2025-02")
    assert (first.version, first.is_new_version) == (1, True)
    before = _tree(d / "published")
    _correct(w)
    with pytest.raises(PublicationRefused, match="blocking check"):
        _checked_publish(w, d, "2025-02", BAD)
    assert _tree(d / "published") == before
    assert not list((d / "published" / "versions" / "2025-02").glob(".tmp-*"))


def test_unchanged_content_gives_no_new_version_and_identical_bytes(wh, tmp_path):
    w, d = wh
    first = _checked_publish(w, d, "2025-02")
    before = _tree(d / "published")
    again = _checked_publish(w, d, "2025-02")
    assert (again.version, again.is_new_version, again.diff_markdown) == (1, False, None)
    assert _tree(d / "published") == before
    # the same content published elsewhere gives byte-identical Parquet (no timestamps, fixed order)
    other = tmp_path / "other"
    w2 = build_marts_warehouse(other)
    _checked_publish(w2, other, "2025-02")
    for table in PUBLISHED_TABLES:
        a = d / "published" / "versions" / "2025-02" / "v0001" / f"{table}.parquet"
        b = other / "published" / "versions" / "2025-02" / "v0001" / f"{table}.parquet"
        assert a.read_bytes() == b.read_bytes(), table
    manifest = json.loads((d / "published" / "versions" / "2025-02" / "v0001" / "manifest.json").read_text())
    assert manifest["version"] == 1 and manifest["code_version"] == "test"
    assert manifest["tables"]["reimbursement_monthly"]["rows"] == 3
    assert manifest["input_checksums"] == {"2025-02/listing.csv": "ab" * 32}
    assert manifest["checks"]["outcomes"][0]["name"] == "components_sum_to_total"
    assert first.files and all(p.exists() for p in first.files)


def test_correction_gives_v2_with_a_diff_naming_vc_and_figure(wh):
    w, d = wh
    _checked_publish(w, d, "2025-01")
    _checked_publish(w, d, "2025-02")
    _correct(w, 250.0)
    second = _checked_publish(w, d, "2025-02")
    assert (second.version, second.is_new_version) == (2, True)
    diff = second.diff_markdown
    assert VC_B in diff and "capitation" in diff and "+250.00" in diff and "total" in diff
    pub = d / "published"
    assert (pub / "versions" / "2025-02" / "v0002" / "diff_from_v0001.md").read_text().strip() == diff.strip()
    catalog = read_catalog(pub)
    assert catalog["months"]["2025-02"]["latest_version"] == 2
    assert catalog["months"]["2025-01"]["latest_version"] == 1
    with duckdb.connect(str(pub / "published.duckdb"), read_only=True) as con:
        versions = dict(con.execute("select month, version from published_versions").fetchall())
        assert versions == {"2025-01": 1, "2025-02": 2}
        tables = {r[0] for r in con.execute("show tables").fetchall()}
        assert set(PUBLISHED_TABLES) <= tables
        assert con.execute("select count(distinct month) from reimbursement_monthly").fetchall()[0][0] == 2
        assert con.execute("select count(*) from vardcentraler").fetchall()[0][0] == 5
    current = pq.read_table(pub / "reimbursement_monthly" / "month=2025-02" / "data.parquet").to_pandas()
    v2 = pq.read_table(pub / "versions" / "2025-02" / "v0002" / "reimbursement_monthly.parquet").to_pandas()
    assert current.equals(v2)
    # v1 is untouched and still readable
    assert (pub / "versions" / "2025-02" / "v0001" / "manifest.json").exists()


def test_open_data_nulls_suppressed_cells(wh):
    w, d = wh
    _checked_publish(w, d, "2025-02")
    with duckdb.connect() as con:
        rows = con.execute(f"select is_suppressed, count(*) filter (where value is not null) from read_csv_auto("
                           f"'{d / 'published' / 'open_data' / 'indicators_monthly_2025-02.csv'}') group by 1"
                           ).fetchall()
    counts = dict(rows)
    assert counts[True] == 0 and counts[False] > 0


def test_open_data_suppresses_the_complement_of_a_lonely_suppressed_cell(wh):
    """SPEC §7: no group (female/male, the professions, the VCs under REGION) keeps exactly one
    suppressed cell that another cell could cover; the published table keeps its own flags."""
    from orchestration.defs.publication.suppression import complementary_suppression

    w, d = wh
    # REGION female 54/69 would be shown beside male 6/7 suppressed: all minus female gives male
    for sex, num, den in (("female", 54, 69), ("male", 6, 7)):
        execute(w, f"update marts.indicators_monthly set numerator = {num}, denominator = {den}, "
                   f"value = {num} / {den}, is_suppressed = {den} < 20 where month = '2025-02' and "
                   f"vardcentral_hsa_id = 'REGION' and indicator_code = 'continuity_doctor' and sex = '{sex}'")
    _checked_publish(w, d, "2025-02")
    open_csv = d / "published" / "open_data" / "indicators_monthly_2025-02.csv"
    parquet = d / "published" / "indicators_monthly" / "month=2025-02" / "data.parquet"
    with duckdb.connect() as con:
        open_data = con.execute(f"select * from read_csv_auto('{open_csv}')").df()
        marts = con.execute(f"select * from read_parquet('{parquet}')").df()
    keys = ["vardcentral_hsa_id", "indicator_code", "sex", "profession"]
    merged = marts.merge(open_data, on=keys, suffixes=("", "_open"), validate="one_to_one")
    assert (merged["is_suppressed_open"] | ~merged["is_suppressed"]).all()      # a superset
    added = merged[merged["is_suppressed_open"] & ~merged["is_suppressed"]]
    assert list(added[keys].itertuples(index=False, name=None)) == [
        ("REGION", "continuity_doctor", "female", "all")]
    assert added["value_open"].isna().all() and added["denominator_open"].isna().all()
    # nothing left to protect: suppression of the published flags gives the export's
    assert complementary_suppression(marts.assign(month="2025-02")).tolist() == merged["is_suppressed_open"].tolist()


READER = textwrap.dedent("""
    import sys, time, duckdb
    from pathlib import Path
    db, stop, base = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    def consistent(con):
        v = con.execute("select version from published_versions where month = '2025-02'").fetchall()[0][0]
        total = con.execute("select sum(total) from reimbursement_monthly where month = '2025-02'").fetchall()[0][0]
        assert abs(total - (base + 100 * (v - 1))) < 1e-6, (v, total)
        return v
    held = duckdb.connect(str(db), read_only=True)       # held open for the whole publication
    held_version = consistent(held)
    seen, loops = set(), 0
    while not stop.exists() or loops < 5:
        with duckdb.connect(str(db), read_only=True) as con:
            seen.add(consistent(con))
        assert consistent(held) == held_version
        loops += 1
        time.sleep(0.01)
    held.close()
    print(",".join(map(str, sorted(seen))), loops)
""")


def test_reader_holding_published_db_never_errors_nor_sees_a_mix(wh, tmp_path):
    w, d = wh
    _checked_publish(w, d, "2025-01")
    _checked_publish(w, d, "2025-02")
    db = d / "published" / "published.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        base = con.execute("select sum(total) from reimbursement_monthly where month = '2025-02'").fetchall()[0][0]
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(stop), repr(base)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        for _ in range(2):
            _correct(w)
            result = _checked_publish(w, d, "2025-02")
            assert result.is_new_version
        stop.touch()
        out, err = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0, err[-3000:]
    seen, loops = out.split()
    assert int(loops) >= 5
    assert read_catalog(d / "published")["months"]["2025-02"]["latest_version"] == 3


_TWELVE = re.compile(r"(?<!\d)(\d{8})-?(\d{4})(?!\d)")


def _personnummer_like(text: str) -> list[str]:
    hits = []
    for head, tail in _TWELVE.findall(text):
        digits = np.array([[int(c) for c in (head + tail)[2:11]]])
        if int(luhn_check_digit(digits)[0]) == int(tail[-1]):
            hits.append(head[:8] + "-****")
    return hits


def test_no_personnummer_in_any_published_file(wh):
    w, d = wh
    _checked_publish(w, d, "2025-01")
    _checked_publish(w, d, "2025-02")
    pub = d / "published"
    texts = []
    for path in pub.rglob("*"):
        if not path.is_file() or path.name == ".publish.lock":
            continue
        if path.suffix == ".parquet":
            texts.append(pq.read_table(path).to_pandas().astype(str).to_csv())
        elif path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as con:
                for (table,) in con.execute("show tables").fetchall():
                    texts.append(con.sql(f"select * from {table}").df().astype(str).to_csv())
        else:
            texts.append(path.read_text(encoding="utf-8"))
    assert texts
    hits = [h for t in texts for h in _personnummer_like(t)]
    assert hits == []
    # the scanner itself finds a valid personnummer (19121212-1212 is Skatteverket's test number)
    assert _personnummer_like("x 191212121212 y") == ["19121212-****"]


def test_content_digest_is_pinned_and_ignores_row_order():
    """DuckDB does not promise that `hash` stays the same across its versions: an upgrade that
    changes it must fail here, not silently make every published month look changed."""
    from orchestration.defs.publication.tables import month_digest

    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.listing_monthly (month varchar, vardcentral_hsa_id varchar, "
                "age_band varchar, sex varchar, listed_count bigint, share double, since date)")
    rows = [("2025-01", "SE1", "0-6", "female", 12, 0.25, "2024-03-01"),
            ("2025-01", "SE2", "7-19", "male", None, -1.5, None),
            ("2025-02", "SE1", "0-6", "female", 13, 0.5, "2024-03-01")]
    con.executemany("insert into marts.listing_monthly values (?, ?, ?, ?, ?, ?, ?)", rows)
    pinned = month_digest(con, "listing_monthly", "2025-01")
    assert pinned == (2, "04d6056fcbbf64c2ae0c35ea364c276f4a2d3e6b7765e5894ba00d60c9a7c675")

    con.execute("create table marts.reordered as select * from marts.listing_monthly order by month desc, share")
    con.execute("drop table marts.listing_monthly")
    con.execute("alter table marts.reordered rename to listing_monthly")
    assert month_digest(con, "listing_monthly", "2025-01") == pinned
    con.execute("update marts.listing_monthly set listed_count = 11 where vardcentral_hsa_id = 'SE1' "
                "and month = '2025-01'")
    assert month_digest(con, "listing_monthly", "2025-01")[1] != pinned[1]


def test_person_rows_are_stored_and_a_file_with_a_person_view_is_rebuilt(wh):
    """published.duckdb stores the person rows (the latest version of each month) like every
    table; a file with them as a view over Parquet (as older code wrote) is rebuilt, in the
    storage version DuckDB 1.x reads."""
    from orchestration.defs.publication.layout import version_dir
    from orchestration.defs.publication.published_db import STORAGE_VERSION, storage_version

    w, d = wh
    pub = d / "published"
    _checked_publish(w, d, "2025-01")
    with duckdb.connect(str(pub / "published.duckdb")) as con:
        con.execute("drop table reimbursement_person_monthly")
        con.execute("create view reimbursement_person_monthly as select * from read_parquet("
                    f"'{version_dir(pub, '2025-01', 1) / 'reimbursement_person_monthly.parquet'}')")
    _checked_publish(w, d, "2025-02")
    _correct(w, 250.0)
    assert _checked_publish(w, d, "2025-02").version == 2
    with duckdb.connect(str(pub / "published.duckdb"), read_only=True) as con:
        kinds = dict(con.execute("select table_name, table_type from information_schema.tables").fetchall())
        published = con.execute("select * exclude (month_start) from reimbursement_person_monthly "
                                "order by all").fetchall()
        assert storage_version(con).startswith(STORAGE_VERSION)
    assert set(kinds.values()) == {"BASE TABLE"}
    with duckdb.connect(str(w), read_only=True) as con:
        assert published == con.execute("select *, cast(regexp_extract(age_band, '^[0-9]+') as integer), "
                                        "cast(regexp_extract(capitation_band, '^[0-9]+') as integer) "
                                        "from marts.reimbursement_person_monthly "
                                        "where month in ('2025-01', '2025-02') order by all").fetchall()
    assert {row[0] for row in published} == {"2025-01", "2025-02"}
    current = pub / "reimbursement_person_monthly" / "month=2025-02" / "data.parquet"
    assert current.samefile(version_dir(pub, "2025-02", 2) / "reimbursement_person_monthly.parquet")


def test_a_moved_data_dir_reads_every_table_without_a_run(wh, tmp_path):
    """published.duckdb names no file: moved elsewhere it reads every table at once, and a run
    of the unchanged month publishes nothing new."""
    import shutil

    w, d = wh
    _checked_publish(w, d, "2025-02")
    moved = tmp_path / "moved"
    shutil.move(str(d), str(moved))
    db = moved / "published" / "published.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        for table in PUBLISHED_TABLES:
            assert con.execute(f'select count(*) from "{table}"').fetchone()[0] > 0, table
    again = _checked_publish(moved / "warehouse.duckdb", moved, "2025-02")
    assert (again.version, again.is_new_version) == (1, False)


def test_a_range_builds_published_db_once_and_ends_as_a_month_by_month_publication(wh, tmp_path):
    from orchestration.defs.publication.publisher import publication

    def published_db(d: Path) -> dict:
        with duckdb.connect(str(d / "published" / "published.duckdb"), read_only=True) as con:
            return {"versions": con.execute("select month, version, content_hash from published_versions "
                                            "order by month").fetchall(),
                    **{t: con.execute(f'select * from "{t}" order by all').fetchall() for t in PUBLISHED_TABLES}}

    w, d = wh
    _checked_publish(w, d, "2025-01")
    _correct(w)   # 2025-02 published for the first time; 2025-01 unchanged
    record_checks(d, "2025-02", month_fingerprint(w, "2025-02"), OK)
    with publication(d) as batch:
        results = [batch.publish(w, m, input_checksums={}, check_outcomes=OK, code_version="test")
                   for m in ("2025-01", "2025-02")]
        # until the range commits, every form holds the months it held, whole
        assert [row[0] for row in published_db(d)["versions"]] == ["2025-01"]
        assert list(read_catalog(d / "published")["months"]) == ["2025-01"]
        assert not (d / "published" / "indicators_monthly" / "month=2025-02").exists()
    assert [(r.version, r.is_new_version) for r in results] == [(1, False), (1, True)]
    with publication(d) as batch:   # nothing left to do
        assert batch.commit() == []

    one_by_one = tmp_path / "one_by_one"
    w2 = build_marts_warehouse(one_by_one)
    _correct(w2)
    for month in ("2025-01", "2025-02"):
        _checked_publish(w2, one_by_one, month)
    ranged, single = published_db(d), published_db(one_by_one)
    assert [v[:2] for v in ranged["versions"]] == [("2025-01", 1), ("2025-02", 1)]
    assert ranged == single
    assert (d / "published" / "vardcentraler" / "data.parquet").read_bytes() == \
        (one_by_one / "published" / "vardcentraler" / "data.parquet").read_bytes()
