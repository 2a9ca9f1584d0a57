"""Re-deliveries of a generated month's visits file, the way a region's year brings them:
a delivery with broken lines (enough to block the month) and a corrected delivery with late
registrations (contacts registered after the first delivery). Both keep the file's encoding,
separator and line endings; both are deterministic by seed and month."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from . import months as mo
from .writer import BOM


def _read(path: Path) -> tuple[bool, str, list[str]]:
    raw = path.read_bytes()
    bom = raw.startswith(BOM)
    text = raw[len(BOM):].decode("utf-8") if bom else raw.decode("utf-8")
    newline = "\r\n" if "\r\n" in text[:10_000] else "\n"
    return bom, newline, text.split(newline)


def _write(path: Path, bom: bool, newline: str, lines: list[str]) -> None:
    path.write_bytes((BOM if bom else b"") + newline.join(lines).encode("utf-8"))


def _separator(header: str) -> str:
    return ";" if header.count(";") > header.count(",") else ","


def break_lines(path: Path, share: float, seed: int) -> int:
    """Cut `share` of the data lines after their fifth field (too few fields: quarantined, file and
    line named); return how many. The values hold no separators, so whole fields are dropped and
    quotes stay balanced. The caller keeps the whole file to deliver again."""
    bom, newline, lines = _read(path)
    sep = _separator(lines[0])
    data = [i for i in range(1, len(lines)) if lines[i]]
    rng = np.random.default_rng([seed, 70, mo.month_index(path.parent.name)])
    hit = rng.choice(data, size=max(1, int(round(share * len(data)))), replace=False)
    for i in sorted(hit):
        lines[i] = sep.join(lines[i].split(sep)[:5])
    _write(path, bom, newline, lines)
    return len(hit)


def add_late_registrations(path: Path, share: float, seed: int) -> int:
    """Append `share` more contacts: copies of existing ones under new contact ids (suffix 'L'),
    as when units register contacts after the month's first delivery; return how many."""
    bom, newline, lines = _read(path)
    header = lines[0]
    sep = _separator(header)
    data = [line for line in lines[1:] if line]
    rng = np.random.default_rng([seed, 71, mo.month_index(path.parent.name)])
    picked = sorted(rng.choice(len(data), size=max(1, int(round(share * len(data)))), replace=False))
    rows = list(csv.reader(io.StringIO("\n".join(data[i] for i in picked)), delimiter=sep))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\n")
    for row in rows:
        row[0] = row[0] + "L"
        writer.writerow(row)
    _write(path, bom, newline, [header, *data, *out.getvalue().rstrip("\n").split("\n"), ""])
    return len(rows)
