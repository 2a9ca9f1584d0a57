"""Injecting one fault into a real delivered file of a synthetic region (tests of SPEC §8).

`Delivery.load(path)` reads a landing CSV the way a person would open it (separator, encoding
and BOM detected), the test changes `rows` or `header`, and `save()` writes it back in the
same format (or another: `save(sep=';', encoding='cp1252')`). Line numbers: `line_of(i)` is
the file line of data row i (the header is line 1).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sources.personnummer import luhn_check_digit


@dataclass
class Delivery:
    path: Path
    header: list[str]
    rows: list[list[str]]
    sep: str = ","
    encoding: str = "utf-8"
    extra: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> "Delivery":
        data = Path(path).read_bytes()
        encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            encoding, text = "cp1252", data.decode("cp1252")
        first = text.split("\n", 1)[0]
        sep = ";" if first.count(";") > first.count(",") else ","
        lines = list(csv.reader(io.StringIO(text), delimiter=sep))
        return cls(Path(path), lines[0], [r for r in lines[1:] if r], sep, encoding)

    def col(self, name: str) -> int:
        return self.header.index(name)

    @staticmethod
    def line_of(index: int) -> int:
        return index + 2

    def get(self, index: int, column: str) -> str:
        return self.rows[index][self.col(column)]

    def set(self, index: int, column: str, value: str) -> int:
        """Change one cell; returns the file line of the row."""
        self.rows[index][self.col(column)] = value
        return self.line_of(index)

    def text(self, sep: str | None = None) -> str:
        out = io.StringIO()
        csv.writer(out, delimiter=sep or self.sep, lineterminator="\n").writerows([self.header, *self.rows])
        return out.getvalue()

    def save(self, sep: str | None = None, encoding: str | None = None) -> Path:
        self.path.write_bytes(self.text(sep).encode(encoding or self.encoding))
        return self.path


def valid_personnummer(birth: str, serial: str) -> str:
    """A personnummer with a correct check digit: birth 'YYYYMMDD', serial 3 digits."""
    check = int(luhn_check_digit(np.array([[int(c) for c in birth[2:] + serial]]))[0])
    return f"{birth}-{serial}{check}"


def with_bad_check_digit(personnummer: str) -> str:
    digits = personnummer.replace("-", "")
    return f"{digits[:8]}-{digits[8:11]}{(int(digits[11]) + 1) % 10}"
