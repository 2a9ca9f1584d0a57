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


def pseudonymise(values: Iterable[str], key: bytes) -> list[str]:
    """HMAC-SHA256 hex digests; the pads are hashed once so millions of values stay cheap."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner_base = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer_base = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    out = []
    for value in values:
        inner = inner_base.copy()
        inner.update(value.encode("utf-8"))
        outer = outer_base.copy()
        outer.update(inner.digest())
        out.append(outer.hexdigest())
    return out
