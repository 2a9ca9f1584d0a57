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


# Below this many values one process is quicker than starting workers.
PARALLEL_MIN_VALUES = 400_000
_JOB: tuple[list[str], bytes] | None = None  # what forked workers hash (inherited, not pickled)


def pseudonymise(values: Iterable[str], key: bytes) -> list[str]:
    """HMAC-SHA256 hex digests; the pads are hashed once so millions of values stay cheap.

    A national delivery (10+ million values, ~5 µs each in one process) is split over the
    machine's cores with forked workers that inherit the values; the result is the same list."""
    import multiprocessing

    values = values if isinstance(values, list) else list(values)
    workers = min(os.cpu_count() or 1, 8)
    # A worker process of a pool (daemonic) may not fork workers of its own.
    if len(values) < PARALLEL_MIN_VALUES or workers < 2 or multiprocessing.current_process().daemon:
        return _hmac_hex(values, key)
    global _JOB

    _JOB = (values, key)
    try:
        chunks = workers * 4
        bounds = [len(values) * i // chunks for i in range(chunks + 1)]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_hmac_range, list(zip(bounds[:-1], bounds[1:])), chunksize=1)
    except OSError:  # cannot fork (limits): one process
        return _hmac_hex(values, key)
    finally:
        _JOB = None
    return [digest for part in parts for digest in part]


def _hmac_range(bounds: tuple[int, int]) -> list[str]:
    values, key = _JOB
    return _hmac_hex(values[bounds[0]:bounds[1]], key)


def _hmac_hex(values: list[str], key: bytes) -> list[str]:
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner_base = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer_base = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    out = []
    append = out.append
    for value in values:
        inner = inner_base.copy()
        inner.update(value.encode("utf-8"))
        outer = outer_base.copy()
        outer.update(inner.digest())
        append(outer.hexdigest())
    return out


def pseudonymise_repeated(values: Iterable[str], key: bytes) -> list[str]:
    """`pseudonymise` for values that repeat (a person's contacts, ACG weights per year): each
    distinct value is hashed once. Same result as `pseudonymise(values, key)`."""
    import numpy as np
    import pandas as pd

    values = values if isinstance(values, list) else list(values)
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    if len(uniques) == len(values) or (codes < 0).any():
        return pseudonymise(values, key)
    hashed = np.asarray(pseudonymise([str(u) for u in uniques], key), dtype=object)
    return hashed[codes].tolist()
