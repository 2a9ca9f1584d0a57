"""Pseudonymisation at ingestion (SPEC §4): person_key = HMAC-SHA256(key, 12-digit number).

The key comes from VARDVAL_PSEUDONYM_KEY. Only `vardval demo` may create a local key, in
a file under the data directory (outside git); there is no key in the code.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

KEY_ENV = "VARDVAL_PSEUDONYM_KEY"


class MissingPseudonymKey(RuntimeError):
    pass


def get_key() -> bytes:
    key = os.environ.get(KEY_ENV, "")
    if not key:
        raise MissingPseudonymKey(
            f"{KEY_ENV} is not set: the pseudonymisation key must come from the environment "
            "(see docs/runbook.md). `vardval demo` creates a local demo key for you."
        )
    return key.encode("utf-8")


def ensure_demo_key(data_dir: Path) -> None:
    """Demo only: reuse or create a random key in <data_dir>/.pseudonym_key and export it."""
    if os.environ.get(KEY_ENV):
        return
    key_file = data_dir / ".pseudonym_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    os.environ[KEY_ENV] = key_file.read_text().strip()


# Below this many values the Python loop is quicker than starting DuckDB.
VECTORISED_MIN_VALUES = 20_000


def pseudonymise(values: Iterable[str], key: bytes) -> list[str]:
    """HMAC-SHA256 hex digests, in the values' order.

    Large inputs (a listing delivery: 286 000 values a region month, 10.6 million nationally)
    are hashed by DuckDB, vectorised and over the cores, by the HMAC construction itself:
    sha256(key ^ opad || sha256(key ^ ipad || utf8(value))). A test holds it equal to Python's
    `hmac` on edge cases (non-ASCII, empty, keys longer than a block). ~2.5× faster than the
    Python loop below, which stays for small inputs (no DuckDB start)."""
    values = values if isinstance(values, list) else list(values)
    if len(values) < VECTORISED_MIN_VALUES:
        return _hmac_hex(values, key)
    import pyarrow as pa

    return _hmac_in_duckdb(pa.table({"value": pa.array(values, pa.string())}), key).to_pylist()


def pseudonymise_column(values: "pd.Series", key: bytes) -> "pd.Series":
    """`pseudonymise` for a column, returned as a column with the same index. A large one
    stays in Arrow buffers end to end: a national listing's 10.6 million values as Python
    strings, in and out, held about 2 GB more at the ingestion's peak."""
    import pandas as pd

    if len(values) < VECTORISED_MIN_VALUES:
        return pd.Series(_hmac_hex(values.tolist(), key), index=values.index, dtype="str")
    import pyarrow as pa

    digests = _hmac_in_duckdb(pa.table({"value": pa.array(values, pa.large_string())}), key)
    return pd.Series(digests.to_pandas(), dtype="str").set_axis(values.index)


def _hmac_in_duckdb(table, key: bytes):
    from sources.columnar import duckdb_over

    inner_pad, outer_pad = _pads(key)
    with duckdb_over(table, "pseudonym_input") as con:
        digests = con.sql("select sha256($outer || unhex(sha256($inner || encode(value)))) as digest "
                          "from pseudonym_input", params={"outer": outer_pad, "inner": inner_pad}).to_arrow_table()
    if digests.num_rows != table.num_rows:   # a scan of a registered Arrow table keeps its rows and order
        raise RuntimeError("pseudonymisation lost rows")
    return digests.column("digest")


def _pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC's inner and outer padded keys (RFC 2104, SHA-256's 64-byte block)."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def _hmac_hex(values: list[str], key: bytes) -> list[str]:
    inner_pad, outer_pad = _pads(key)
    inner_base = hashlib.sha256(inner_pad)
    outer_base = hashlib.sha256(outer_pad)
    out = []
    append = out.append
    for value in values:
        inner = inner_base.copy()
        inner.update(value.encode("utf-8"))
        outer = outer_base.copy()
        outer.update(inner.digest())
        append(outer.hexdigest())
    return out


def pseudonymise_repeated_column(values: "pd.Series", key: bytes) -> "pd.Series":
    """`pseudonymise_column` for values that repeat (a person's contacts, ACG weights per year):
    each distinct value is hashed once, and the column stays in Arrow buffers end to end. As
    Python strings in and out, a national month's 4.25 million contacts raised the read's peak
    by ~0.4 GiB, and 10.3 million ACG weights the reference load's by ~1.5 GiB."""
    import pandas as pd

    if len(values) >= VECTORISED_MIN_VALUES and _mostly_distinct(values):
        return pseudonymise_column(values, key)   # factorising would only add its own cost
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == len(values) or (codes < 0).any():
        return pseudonymise_column(values, key)
    hashed = pseudonymise_column(pd.Series(uniques, dtype="str"), key)
    return hashed.take(codes).set_axis(values.index)


def _mostly_distinct(values: "pd.Series") -> bool:
    """Whether at least 80 % of the values are distinct, by DuckDB's HyperLogLog estimate
    (~0.2 s on 10 million; deterministic). ACG weights are one row per person and year:
    factorising their 10.3 million personnummer took ~3.7 s and saved no hashing."""
    import pyarrow as pa

    from sources.columnar import duckdb_over

    with duckdb_over(pa.table({"value": pa.array(values, pa.large_string())}), "pseudonym_input") as con:
        estimate = con.execute("select approx_count_distinct(value) from pseudonym_input").fetchone()[0]
    return estimate >= 0.8 * len(values)

