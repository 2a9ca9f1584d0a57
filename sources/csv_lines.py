"""The physical lines of a delivered CSV file and the damaged ones among them.

A value in a delivery never runs over a line end (SPEC §3's columns are codes, ids, dates,
numbers and flags), so every physical line after the header is one row, to be accepted or
quarantined. A line that the CSV parser would not read as one row on its own is *damaged*:

- a quote that opens a field and is not closed on the line (the parser would run on into the
  following lines and swallow them),
- a carriage return inside the line (a line break to the parser),
- a NUL byte (a sign of a binary or UTF-16 fragment),
- bytes the file's encoding does not define.

This module finds them (line number, character, what) and empties them in the bytes the parser
reads, so every other line keeps its place; the reader quarantines them with the damage named.
The scans are numpy passes over the bytes and run only when the parser's row count already
differs from the line count, or the file holds a NUL byte or undecodable bytes.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

_CHUNK = 1 << 26  # bytes scanned at a time: temporaries stay small on a national file
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Damage:
    character: int   # 1-based position in the line (characters, not bytes)
    what: str        # e.g. 'NUL byte', 'unclosed quote'
    hint: str = ""   # what to do about it, if not obvious


class EncodingError(ValueError):
    """The whole file is in an encoding we do not read (UTF-16/32) or its header is damaged."""


def data_line_count(payload: bytes) -> int:
    """Physical lines after the header (line 1); a last line without a line break counts."""
    return payload.count(b"\n") - 1 + (0 if payload.endswith(b"\n") else 1)


def _offsets_of(payload: bytes, byte: int) -> np.ndarray:
    view = np.frombuffer(payload, dtype=np.uint8)
    parts = [np.flatnonzero(view[i:i + _CHUNK] == byte) + i for i in range(0, len(view), _CHUNK)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


class Lines:
    """Where each physical line of a payload starts and ends (line 1 = the header)."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.newlines = _offsets_of(payload, ord("\n"))

    @property
    def count(self) -> int:
        return len(self.newlines) + 1  # the part after the last line break, possibly empty

    def line_of(self, offsets: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.newlines, offsets, side="left") + 1

    def span(self, line: int) -> tuple[int, int]:
        """Byte range of a line without its line break."""
        start = 0 if line == 1 else int(self.newlines[line - 2]) + 1
        end = int(self.newlines[line - 1]) if line - 1 < len(self.newlines) else len(self.payload)
        return start, end

    def text(self, line: int) -> str:
        start, end = self.span(line)
        return self.payload[start:end].decode("utf-8", "replace").removesuffix("\r")

    def character(self, offset: int) -> int:
        """1-based character position of a byte offset within its line."""
        start, _ = self.span(int(self.line_of(np.asarray([offset]))[0]))
        return len(self.payload[start:offset].decode("utf-8", "replace")) + 1


# --- encoding --------------------------------------------------------------------------------

def decode(data: bytes) -> tuple[bytes, str, dict[int, Damage]]:
    """UTF-8 payload (BOM removed), the encoding found (utf-8-sig, utf-8 or cp1252), and the
    lines holding bytes that encoding does not define.

    A file that is not valid UTF-8 is UTF-8 with damaged lines when it has a UTF-8 BOM or,
    around its first bad byte, more valid multi-byte UTF-8 characters than bad bytes (a
    Windows-1252 file has next to none: its Swedish letters are single bytes); otherwise it is
    Windows-1252, where only 0x81, 0x8D, 0x8F, 0x90 and 0x9D are undefined."""
    _refuse_wide(data)
    body, encoding = (data[3:], "utf-8-sig") if data.startswith(_UTF8_BOM) else (data, "utf-8")
    if body.isascii():
        return body, encoding, {}
    try:
        body.decode("utf-8")
        return body, encoding, {}
    except UnicodeDecodeError as exc:
        first = exc.start
    if encoding == "utf-8-sig" or _utf8_around(body, first):
        text = body.decode("utf-8", "surrogateescape")
        bad = re.finditer("[\udc80-\udcff]", text)
        damage = _damage_in_text(text, bad, lambda ch: f"byte 0x{ord(ch) - 0xDC00:02X} that is not "
                                 "UTF-8 (the rest of the file is UTF-8)")
        return text.encode("utf-8", "replace"), encoding, damage
    text = body.decode("cp1252", "replace")   # U+FFFD only where the byte is undefined
    damage = _damage_in_text(text, re.finditer("\ufffd", text),
                             lambda _: "a byte that is neither UTF-8 nor Windows-1252", body)
    return text.encode("utf-8"), "cp1252", damage


def _utf8_around(body: bytes, first: int) -> bool:
    """More valid multi-byte UTF-8 characters than bad bytes within 1 MiB of the first bad
    byte: UTF-8 with damaged lines (a Windows-1252 file has next to none)."""
    window = body[max(0, first - (1 << 20)):first + (1 << 20)]
    text = window.decode("utf-8", "surrogateescape")
    bad = len(re.findall("[\udc80-\udcff]", text))
    return len(window) - len(text) > bad


def _damage_in_text(text: str, matches: Iterable[re.Match], what, raw: bytes | None = None
                    ) -> dict[int, Damage]:
    """The first bad character of each line (matches in order); `raw`: the single-byte
    original, to name the byte."""
    damage: dict[int, Damage] = {}
    line, counted_to = 1, 0
    for match in matches:
        at = match.start()
        line += text.count("\n", counted_to, at)
        counted_to = at
        if line in damage:
            continue
        start = text.rfind("\n", 0, at) + 1
        label = (f"byte 0x{raw[at]:02X} that is neither UTF-8 nor Windows-1252" if raw is not None
                 else what(match.group()))
        damage[line] = Damage(at - start + 1, label)
    return damage


def _refuse_wide(data: bytes) -> None:
    """UTF-16 and UTF-32 files: said so, not shown as a garbled header."""
    for bom, name in ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                      (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16")):
        if data.startswith(bom):
            raise EncodingError(f"the file is {name} (byte-order mark {bom.hex(' ').upper()}); "
                                "save it as CSV in UTF-8 or Windows-1252")
    end = data.find(b"\n")
    head = data[:end if end >= 0 else 4096]
    if b"\x00" in head:
        if head.count(b"\x00") * 3 >= len(head):  # every other byte: ASCII text in UTF-16
            raise EncodingError("the file looks like UTF-16 without a byte-order mark (NUL bytes "
                                "between the header's characters); save it as CSV in UTF-8 or "
                                "Windows-1252")
        raise EncodingError(f"line 1: NUL byte in the header at byte {head.find(0) + 1}")


# --- damaged lines ---------------------------------------------------------------------------

def nul_damage(lines: Lines) -> dict[int, Damage]:
    return _first_per_line(lines, _offsets_of(lines.payload, 0), "NUL byte")


def stray_cr_damage(lines: Lines) -> dict[int, Damage]:
    """A carriage return not followed by a line feed ends a row for the parser (one as the
    file's last byte only ends the last line)."""
    payload = lines.payload
    if b"\r" not in payload:
        return {}
    cr = _offsets_of(payload, ord("\r"))
    inner = cr[cr + 1 < len(payload)]
    stray = inner[np.frombuffer(payload, dtype=np.uint8)[inner + 1] != ord("\n")]
    return _first_per_line(lines, stray, "carriage return inside the line")


def _first_per_line(lines: Lines, offsets: np.ndarray, what: str) -> dict[int, Damage]:
    if not len(offsets):
        return {}
    numbers = lines.line_of(offsets)
    numbers, first = np.unique(numbers, return_index=True)
    return {int(n): Damage(lines.character(int(offsets[i])), what)
            for n, i in zip(numbers, first) if n >= 2}


def quote_damage(lines: Lines, separator: str, every_quoted_line: bool = False
                 ) -> dict[int, Damage]:
    """Lines where a quote opens a field and is not closed on the line.

    Such a line has an odd number of quote characters unless it also holds a literal quote
    inside an unquoted value (`5"`); the odd lines are checked first, and `every_quoted_line`
    checks all lines with a quote (for when the odd ones did not explain the row count)."""
    quotes = _offsets_of(lines.payload, ord('"'))
    if not len(quotes):
        return {}
    counts = np.bincount(lines.line_of(quotes), minlength=lines.count + 1)
    candidates = np.flatnonzero(counts > 0 if every_quoted_line else counts % 2 == 1)
    damage = {}
    for line in candidates[candidates >= 2]:
        found = unclosed_quote(lines.text(int(line)), separator)
        if found is not None:
            damage[int(line)] = Damage(found, "unclosed quote",
                                    "a value cannot run over the line end")
    return damage


def unclosed_quote(line: str, separator: str) -> int | None:
    """1-based character of a quote that opens a field and is not closed on the line, read as
    the CSV parser reads it (a quote is special only at a field's start; `""` inside a quoted
    value is one quote)."""
    quoted, at_start, opened, i = False, True, 0, 0
    while i < len(line):
        ch = line[i]
        if quoted:
            if ch == '"':
                if line[i + 1:i + 2] == '"':
                    i += 1
                else:
                    quoted = False
        elif ch == separator:
            at_start = True
            i += 1
            continue
        elif ch == '"' and at_start:
            quoted, opened = True, i
        at_start = False
        i += 1
    return opened + 1 if quoted else None


def blank(lines: Lines, numbers: Iterable[int]) -> bytes:
    """The payload with the given lines emptied (their line breaks kept, so every line keeps
    its number; an emptied last line without a line break gets one)."""
    numbers = sorted(set(numbers))
    if not numbers:
        return lines.payload
    pieces, at = [], 0
    for line in numbers:
        start, end = lines.span(line)
        pieces.append(lines.payload[at:start])
        at = end
    pieces.append(lines.payload[at:])
    out = b"".join(pieces)
    if numbers[-1] == lines.count and lines.span(numbers[-1])[0] < len(lines.payload):
        out += b"\n"
    return out


def only_separators(text: str, separator: str) -> bool:
    """A line with no value: blank, or nothing but separators and blanks (Excel's `;;;;;;`)."""
    return not text.replace(separator, "").strip()
