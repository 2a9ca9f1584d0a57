"""SPEC §4: the personnummer is replaced by a keyed pseudonym; the key is never in the code.

The scan of every output of a run is `test_blocked_runs.py::test_no_personnummer_in_any_output_of_a_run_with_bad_rows`
(helper: tests/pii_scan.py); the refusal to run without a key is
`test_cli.py::test_run_without_a_pseudonym_key_exits_2_and_touches_nothing`; a new key
re-ingests everything under new keys: `test_bad_input.py::test_a_new_key_reingests_and_changes_every_person_key`.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import stat

import pytest

from sources.pseudonym import KEY_ENV, MissingPseudonymKey, ensure_demo_key, get_key, pseudonymise
from tests.pii_scan import personnummer_hits

PERSONS = ["191212121212", "199001012229", "R12345"]     # Skatteverket's test number, another, a reserve number


def test_pseudonym_is_hmac_sha256_stable_for_a_key_and_changes_with_the_key():
    key = b"region-key-1"
    keys = pseudonymise(PERSONS, key)
    assert keys == pseudonymise(PERSONS, key)                               # stable
    assert keys == [hmac.new(key, p.encode(), hashlib.sha256).hexdigest() for p in PERSONS]
    other = pseudonymise(PERSONS, b"region-key-2")
    assert not set(keys) & set(other)                                        # changes with the key
    long_key = b"k" * 100                                                    # longer than a block
    assert pseudonymise(PERSONS, long_key) == [hmac.new(long_key, p.encode(), hashlib.sha256).hexdigest()
                                               for p in PERSONS]
    assert not personnummer_hits(" ".join(keys))


def test_no_key_means_an_error_naming_the_variable(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(MissingPseudonymKey, match=KEY_ENV):
        get_key()
    monkeypatch.setenv(KEY_ENV, "")
    with pytest.raises(MissingPseudonymKey, match=KEY_ENV):
        get_key()


def test_demo_key_is_random_per_data_dir_private_and_reused(tmp_path, monkeypatch):
    keys = []
    for name in ("a", "a", "b"):
        monkeypatch.delenv(KEY_ENV, raising=False)
        ensure_demo_key(tmp_path / name)
        keys.append(os.environ[KEY_ENV])
        key_file = tmp_path / name / ".pseudonym_key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert keys[0] == keys[1] != keys[2] and len(keys[0]) >= 32


def test_same_person_has_the_same_key_in_every_month(published_region):
    """Stable within a key: most persons listed in January are listed, under the same key, in February."""
    [(both, january)] = published_region.query("""
        select count(*) filter (where f.person_key is not null), count(*)
        from (select person_key from raw.listing where month = '2025-01') j
        left join (select person_key from raw.listing where month = '2025-02') f using (person_key)""")
    assert january > 1000 and both / january > 0.9


def test_the_scanner_finds_valid_numbers_and_ignores_masks_ids_and_pseudonyms():
    text = ("19121212-1212 191212121212 samordning 199001612226 masked 19850312-**** id K20250100000001 "
            "unit SE2321000180-E000000000104 run 19121212-1212-4abc-8def-0123456789ab "
            + pseudonymise(["191212121212"], b"k")[0])
    assert personnummer_hits(text) == ["19121212-****", "19121212-****", "19900161-****"]
    assert personnummer_hits("19121212-1213 20250101-0000") == []            # wrong check digits


def test_the_scanner_reads_every_kind_of_output(tmp_path):
    """A planted number is found in each kind of file the full-run scan relies on."""
    import sqlite3

    import duckdb
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.pii_scan import scan_files

    planted = "19121212-1212"
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema marts; create table marts.t (x integer, note varchar)")
        con.execute("insert into marts.t values (1, ?)", [f"row of {planted}"])
    pq.write_table(pa.table({"note": [planted]}), tmp_path / "t.parquet")
    book = openpyxl.Workbook()
    book.active["B7"] = int(planted.replace("-", ""))          # a number cell, as Excel would hold it
    book.save(tmp_path / "s.xlsx")
    with sqlite3.connect(tmp_path / "events.db") as con:
        con.execute("create table event_logs (event text)")
        con.execute("insert into event_logs values (?)", [f'{{"message": "{planted}"}}'])
    (tmp_path / "run.log").write_text(f"line {planted}\n")
    (tmp_path / "report.html").write_text(f"<td>{planted.replace('-', '')}</td>")
    found = scan_files(sorted(tmp_path.iterdir()))
    assert sorted({where.split(":")[0].split("!")[0].rsplit("/", 1)[-1] for where in found}) == \
        ["events.db", "report.html", "run.log", "s.xlsx", "t.parquet", "w.duckdb"]


def test_vectorised_pseudonymisation_equals_python_hmac():
    import hashlib
    import hmac

    import pandas as pd

    from sources.pseudonym import VECTORISED_MIN_VALUES, pseudonymise, pseudonymise_column

    values = [f"19{i % 90 + 10:02d}0{i % 9 + 1}1{i % 10}{i:04d}"[:12] for i in range(VECTORISED_MIN_VALUES)]
    values += ["", "åäö-Ω 123", "x" * 300, "197001011234"]
    for key in (b"k", "nyckel-åäö".encode(), b"K" * 100):   # a key longer than SHA-256's block is hashed first
        expected = [hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest() for v in values]
        assert pseudonymise(values, key) == expected
        assert pseudonymise(values[-4:], key) == expected[-4:]   # the small-input path
        # The column form keeps the index and stays in Arrow buffers.
        column = pd.Series(values, index=range(2, len(values) + 2), dtype="str")
        for part in (column, column.iloc[-4:]):
            keyed = pseudonymise_column(part, key)
            assert keyed.index.equals(part.index) and str(keyed.dtype) == "str"
            assert keyed.tolist() == expected[-len(part):]


def test_repeated_values_are_keyed_once_and_stay_a_column():
    import pandas as pd

    from sources.pseudonym import VECTORISED_MIN_VALUES, pseudonymise, pseudonymise_repeated_column

    distinct = [f"19{i % 90 + 10:02d}0{i % 9 + 1}1{i % 10}{i:04d}"[:12] for i in range(VECTORISED_MIN_VALUES)]
    values = distinct + distinct[:500] + ["åäö-Ω 123"] * 3          # a person's contacts repeat
    key = b"k"
    expected = pseudonymise(values, key)
    for column in (pd.Series(values, index=range(7, len(values) + 7), dtype="str"),
                   pd.Series(values, dtype=object), pd.Series(values[-5:], dtype="str")):
        keyed = pseudonymise_repeated_column(column, key)
        assert keyed.index.equals(column.index) and str(keyed.dtype) == "str"
        assert keyed.tolist() == expected[-len(column):]
    # mostly repeats (the factorised path) and mostly distinct (hashed row by row) alike
    many_repeats = pd.Series(distinct[:100] * 250, dtype="str")
    assert pseudonymise_repeated_column(many_repeats, key).tolist() == pseudonymise(distinct[:100], key) * 250
