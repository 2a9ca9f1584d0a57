"""Every line of a damaged delivery is accepted or quarantined (SPEC §7, §8).

A property-style test with a fixed seed: a few hundred small deliveries of the three sources,
each damaged on random lines the ways files get damaged (an unclosed quote, an extra
separator, a line cut short or joined to the next, bytes of another encoding, NUL bytes, a
stray carriage return, blank and separator-only lines, a file cut off mid-line), read by the
real readers. Each time: rows read = the file's data lines, and the accepted and the
quarantined lines are exactly those lines, each once.

The file's data lines are counted here from the bytes, independently of the reader: the
physical lines after the header, up to the last one that holds anything but blanks and
separators (trailing empty lines are not rows: docs/decisions.md).
"""
from __future__ import annotations

import random

import pytest

from tests.source_fixtures import KEY, LISTING_HEADER, MONTH, TELEPHONY_HEADER, VISITS_HEADER, pnr, units
from validations.intake import read_listing, read_telephony, read_visits

SEED = 20261207
FILES_PER_SOURCE = 80
ROWS = 24


def _listing_rows(rng: random.Random) -> list[list[str]]:
    return [[pnr(f"19{rng.randint(30, 99)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}",
                 f"{i:03d}", hyphen=rng.random() < 0.5),
             "VC1", "2024-05-01", rng.choice(["aktiv", "passiv"]), "", rng.choice(["0", "1"]),
             "0180C1010"] for i in range(ROWS)]


def _visits_rows(rng: random.Random) -> list[list[str]]:
    return [[f"K{i}", pnr(f"19{rng.randint(30, 99)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}",
                          f"{i:03d}"),
             "VC1", f"2025-03-{rng.randint(1, 28):02d}", "besok", "lakare", "", "genomford", "0",
             "", "0"] for i in range(ROWS)]


def _telephony_rows(rng: random.Random) -> list[list[str]]:
    return [[f"C{i}", "VC1", f"2025-03-{rng.randint(1, 28):02d} 08:{i % 60:02d}:00",
             "tidsbokning", "answered", "", "1"] for i in range(ROWS)]


UNITS = units()
SOURCES = {
    "listing": (LISTING_HEADER, _listing_rows, lambda d: read_listing(d, MONTH, UNITS, KEY)),
    "visits": (VISITS_HEADER, _visits_rows, lambda d: read_visits(d, MONTH, UNITS, KEY)),
    "telephony": (TELEPHONY_HEADER, _telephony_rows, lambda d: read_telephony(d, MONTH, UNITS)),
}

FOREIGN_BYTES = [b"\xe5", b"\xf6\xe4", b"\x81", b"\x8d\x9d", b"\xc3", b"\xff", b"\xc3\xa5"]


def _damage_line(line: bytes, sep: bytes, rng: random.Random) -> tuple[bytes, str]:
    at = rng.randint(0, len(line))
    kind = rng.choice(["unclosed quote", "extra separator", "cut", "foreign bytes", "nul",
                       "carriage return", "separator only", "blank"])
    if kind == "unclosed quote":  # at a field's start: the parser would run on past the line
        starts = [0] + [i + 1 for i, b in enumerate(line) if line[i:i + 1] == sep]
        at = rng.choice(starts)
        return line[:at] + b'"' + line[at:], kind
    if kind == "extra separator":
        return line[:at] + sep + line[at:], kind
    if kind == "cut":
        return line[:at], kind
    if kind == "foreign bytes":
        return line[:at] + rng.choice(FOREIGN_BYTES) + line[at:], kind
    if kind == "nul":
        return line[:at] + b"\x00" + line[at:], kind
    if kind == "carriage return":
        return line[:at] + b"\r" + line[at:], kind
    if kind == "separator only":
        return sep * rng.randint(0, 12), kind
    return b"", kind


def _damaged_delivery(rng: random.Random, header: list[str], rows: list[list[str]]
                      ) -> tuple[bytes, str, list[str]]:
    sep = rng.choice([",", ";"])
    encoding = rng.choice(["utf-8", "utf-8-sig", "cp1252"])
    if rng.random() < 0.5:  # a non-ASCII column, so the encoding is judged on real text
        header = [*header, "kommentar"]
        rows = [[*r, rng.choice(["Vårdcentral Ö", "", "ok", "Åsa"])] for r in rows]
    text = "\n".join(sep.join(r) for r in [header, *rows]) + "\n"
    lines = text.encode(encoding).split(b"\n")
    head, body = lines[0], lines[1:-1]
    done = []
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(body))
        if rng.random() < 0.15:  # a line break lost: two lines joined
            if i + 1 < len(body):
                body[i:i + 2] = [body[i] + body[i + 1]]
                done.append("joined")
            continue
        damaged, kind = _damage_line(body[i], sep.encode(), rng)
        if rng.random() < 0.3:  # an extra line rather than a changed one
            body.insert(rng.randint(0, len(body)), damaged)
        else:
            body[i] = damaged
        done.append(kind)
    data = b"\n".join([head, *body]) + b"\n"
    if rng.random() < 0.15:  # the file cut off mid-line (after the first data lines)
        data = data[:rng.randint(len(head) + 40, len(data))]
        done.append("file cut")
    if rng.random() < 0.15:  # trailing separator-only or blank lines
        data += b"\n".join(sep.encode() * rng.randint(0, 12) for _ in range(rng.randint(1, 3))) + b"\n"
        done.append("trailing empty lines")
    return data, sep, done


def _data_lines(data: bytes, sep: str) -> set[int]:
    """File line numbers (header = 1) of the data lines, counted from the bytes."""
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines = lines[:-1]
    last = 0
    for number, line in enumerate(lines[1:], start=2):
        if line.removesuffix(b"\r").replace(sep.encode(), b"").strip(b" \t"):
            last = number
    return set(range(2, last + 1))


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_line_of_a_damaged_delivery_is_accepted_or_quarantined(tmp_path, source):
    header, make_rows, read = SOURCES[source]
    rng = random.Random(f"{SEED}-{source}")
    path = tmp_path / MONTH / f"{source}.csv"
    path.parent.mkdir(parents=True)
    for case in range(FILES_PER_SOURCE):
        data, sep, damage = _damaged_delivery(rng, header, make_rows(rng))
        path.write_bytes(data)
        result = read(tmp_path)
        expected = _data_lines(data, sep)
        accepted = result.accepted["source_line"].tolist()
        quarantined = set(result.quarantine["source_line"].dropna().astype(int))
        where = f"case {case} ({', '.join(damage)}): {data!r}"
        assert len(accepted) == len(set(accepted)), where
        assert not set(accepted) & quarantined, where
        assert set(accepted) | quarantined == expected, where
        assert result.rows_read == len(expected), where
