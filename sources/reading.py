"""Finding and reading delivered files: CSV (encoding and separator detected) and XLSX.

Every reader in `sources/` goes through `read_table`, which returns the required columns as
stripped text (empty = missing), indexed by the original line number (header = line 1; Excel:
the sheet row), plus the lines that could not be split into fields. Typing and validation
are the contracts' job (`validations/contracts`). File-level problems raise `SourceFileError`
naming the file. No personnummer is put into an error message: we only ever echo the header.
"""
from __future__ import annotations

import csv
import datetime
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from pandas._libs.parsers import STR_NA_VALUES

from sources.columnar import string_buffers
from sources.personnummer import mask

QUARANTINE_COLUMNS = ["month", "source", "source_file", "source_line", "column_name", "reason",
                      "masked_value"]
FINDING_COLUMNS = ["source_line", "column_name", "reason", "masked_value"]
MAX_SHOWN = 50  # characters of an offending value shown in the quarantine


class SourceFileError(Exception):
    """A file that cannot be read at all: missing, empty, undecodable, missing columns."""


@dataclass
class FileInfo:
    path: Path
    name: str
    sha256: str
    size_bytes: int
    file_format: str                  # 'csv' | 'xlsx'
    encoding: str | None = None       # 'utf-8', 'utf-8-sig' (BOM) or 'cp1252'; None for xlsx
    separator: str | None = None      # ',' or ';'; None for xlsx
    extra_columns: list[str] = field(default_factory=list)


@dataclass
class RawTable:
    file: FileInfo
    frame: pd.DataFrame               # required columns as text, index 'source_line'
    bad_lines: pd.DataFrame           # FINDING_COLUMNS: lines that could not be split
    rows_read: int


@dataclass
class IngestResult:
    source: str
    month: str
    file: FileInfo
    rows_read: int
    accepted: pd.DataFrame            # exactly the columns of raw.<source>
    quarantine: pd.DataFrame          # exactly the columns of raw.quarantine

    def move_to_quarantine(self, mask: pd.Series, column: str | None, reason: str) -> int:
        """Move accepted rows where `mask` is true to the quarantine (e.g. ids used in other
        months); returns how many moved. The shown value is the accepted column's value,
        except for person_key, which is not shown (it is a pseudonym, not a pointer)."""
        hit = np.asarray(mask.reindex(self.accepted.index, fill_value=False)
                         if isinstance(mask, pd.Series) else mask, dtype=bool)
        if not hit.any():
            return 0
        moved = self.accepted[hit]
        if column in moved.columns and column != "person_key":
            shown = moved[column].astype("string").str.slice(0, MAX_SHOWN)
        else:
            shown = pd.Series(pd.NA, index=moved.index, dtype="string")
        findings = pd.DataFrame({"source_line": moved["source_line"].to_numpy(),
                                 "column_name": column, "reason": reason,
                                 "masked_value": shown.to_numpy()})
        self.quarantine = pd.concat(
            [self.quarantine, quarantine_frame(findings, self.month, self.source, self.file.name)],
            ignore_index=True)
        self.accepted = self.accepted[~hit].reset_index(drop=True)
        return int(hit.sum())


def quarantine_frame(findings: pd.DataFrame, month: str, source: str, file_name: str
                     ) -> pd.DataFrame:
    """FINDING_COLUMNS -> raw.quarantine columns, one row per (line, column, reason)."""
    out = findings.drop_duplicates(["source_line", "column_name", "reason"])
    out = out.assign(month=month, source=source, source_file=file_name)
    out["source_line"] = out["source_line"].astype("Int64")
    return out.sort_values(["source_line", "column_name"], na_position="first")[
        QUARANTINE_COLUMNS].reset_index(drop=True)


def locate(landing_dir: Path, month: str, stem: str, formats: Sequence[str] = ("csv",)) -> Path:
    """The month's delivery of one source; exactly one of the allowed formats must exist."""
    folder = Path(landing_dir) / month
    candidates = [folder / f"{stem}.{fmt}" for fmt in formats]
    found = [p for p in candidates if p.is_file()]
    if not found:
        raise SourceFileError(
            f"missing file: expected {' or '.join(str(p) for p in candidates)}")
    if len(found) > 1:
        raise SourceFileError(
            f"ambiguous delivery: both {' and '.join(str(p) for p in found)} exist; "
            "remove the one that is not current")
    return found[0]


def read_table(path: Path, required: Sequence[str], pii_columns: Sequence[str] = (),
               allow_empty: bool = False, optional: Sequence[str] = ()) -> RawTable:
    """Read the required columns of a CSV or XLSX file as text (see module docstring).

    `pii_columns` are masked wherever a value is shown; `allow_empty` accepts a header-only
    file (optional reference files) instead of raising; `optional` columns are read when the
    header has them and are all empty otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceFileError(f"missing file: expected {path}")
    data = path.read_bytes()
    if not data.strip():
        raise SourceFileError(f"{path.name}: empty file (0 bytes)" if not data
                              else f"{path.name}: empty file (only blank space)")
    info = FileInfo(path=path, name=path.name, sha256=hashlib.sha256(data).hexdigest(),
                    size_bytes=len(data), file_format=path.suffix.lower().lstrip("."))
    if info.file_format == "csv":
        payload, header = _csv_header(data, info)
    elif info.file_format == "xlsx":
        sheet = _xlsx_sheet(path)
        header = [("" if pd.isna(h) else str(h)) for h in sheet.iloc[0]] if len(sheet) else []
    else:
        raise SourceFileError(f"{path.name}: unsupported file format (expected .csv or .xlsx)")
    positions = _match_columns(header, required, info, optional)
    if info.file_format == "csv":
        frame, bad = _csv_body(payload, info, len(header), positions, pii_columns)
    else:
        frame, bad = _xlsx_body(sheet, positions), pd.DataFrame(columns=FINDING_COLUMNS)
    frame, empty = _drop_empty(frame)
    if frame.empty and bad.empty and not allow_empty:
        raise SourceFileError(f"{path.name}: header only, no data rows")
    if not empty.empty:
        bad = empty if bad.empty else pd.concat([bad, empty], ignore_index=True)
    for column in optional:
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype="str")
    return RawTable(file=info, frame=frame, bad_lines=bad, rows_read=len(frame) + len(bad))


def _match_columns(header: list[str], required: Sequence[str], info: FileInfo,
                   optional: Sequence[str] = ()) -> dict[str, int]:
    """Required (and present optional) column name -> position, matched on stripped lower-case names."""
    names = [str(h).replace("\ufeff", "").strip().lower() for h in header]
    required = [*required, *(c for c in optional if c in names)]
    missing = [c for c in required if c not in names]
    if missing:
        raise SourceFileError(
            f"{info.name}: missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(c) for c in missing)} (line 1); columns found: "
            f"{', '.join(repr(h) for h in header)[:500]}")
    doubled = sorted({c for c in required if names.count(c) > 1})
    if doubled:
        raise SourceFileError(
            f"{info.name}: column {', '.join(repr(c) for c in doubled)} appears more than once "
            "in the header (line 1; names are matched case-insensitively)")
    info.extra_columns = [h.strip() for h, n in zip(header, names) if n not in required and n]
    return {c: names.index(c) for c in required}


def _drop_empty(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows with no required field filled: trailing ones are not rows (a file ending in blank
    lines); any others are reported as 'empty line'."""
    blank = frame.isna().all(axis=1).to_numpy()
    if not blank.any():
        return frame, pd.DataFrame(columns=FINDING_COLUMNS)
    last_filled = np.flatnonzero(~blank).max() + 1 if (~blank).any() else 0
    inner = blank.copy()
    inner[last_filled:] = False
    empty = pd.DataFrame({"source_line": frame.index[inner], "column_name": None,
                          "reason": "empty line", "masked_value": None})
    return frame[~blank], empty


# --- CSV -----------------------------------------------------------------------------------

def _decode(data: bytes, name: str) -> tuple[bytes, str]:
    """UTF-8 payload (BOM removed) and the encoding found: utf-8-sig, utf-8 or cp1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:], "utf-8-sig"
    if data.isascii():
        return data, "utf-8"
    try:
        data.decode("utf-8")
        return data, "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252").encode("utf-8"), "cp1252"
    except UnicodeDecodeError as exc:  # bytes undefined in Windows-1252: neither encoding
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceFileError(
            f"{name}: line {line}: neither UTF-8 nor Windows-1252 (byte 0x{data[exc.start]:02x} "
            f"at offset {exc.start}); re-export the file as UTF-8") from None


def _detect_separator(header_line: str, name: str) -> str:
    semicolons, commas = header_line.count(";"), header_line.count(",")
    if semicolons == 0 and commas == 0:
        hint = " (it looks tab-separated)" if "\t" in header_line else ""
        raise SourceFileError(
            f"{name}: line 1: cannot detect the separator, the header has neither ',' nor ';'"
            f"{hint}: {header_line[:200]!r}")
    return ";" if semicolons > commas else ","


def _csv_header(data: bytes, info: FileInfo) -> tuple[bytes, list[str]]:
    payload, info.encoding = _decode(data, info.name)
    end = payload.find(b"\n")
    header_line = (payload if end < 0 else payload[:end]).decode("utf-8").rstrip("\r")
    info.separator = _detect_separator(header_line, info.name)
    return payload, next(csv.reader([header_line], delimiter=info.separator))


def _csv_body(payload: bytes, info: FileInfo, n_fields: int, positions: dict[str, int],
              pii: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """pyarrow's CSV parser over the data lines, all required columns as text.

    Lines with the wrong number of fields go to `on_invalid`, which is called only for those
    lines (the fast path costs nothing when the file is clean). Only single-threaded parsing
    gives their record numbers (which equal line numbers unless a quoted value spans lines),
    so a file is parsed over the cores first and again on one thread only if it has such lines.
    """
    if payload.find(b"\n") < 0:  # the header alone, without a line break
        return (pd.DataFrame({c: pd.Series(dtype="str") for c in positions}),
                pd.DataFrame(columns=FINDING_COLUMNS))
    names = [f"f{i}" for i in range(n_fields)]  # own names: the header may repeat or be odd
    include = [names[i] for i in positions.values()]
    invalid: list[tuple[int | None, int, str]] = []

    def on_invalid(row) -> str:
        invalid.append((row.number, row.actual_columns, row.text))
        return "skip"

    def parse(use_threads: bool) -> pa.Table:
        invalid.clear()
        return pacsv.read_csv(
            io.BytesIO(payload),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, use_threads=use_threads,
                                           block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=info.separator, ignore_empty_lines=False,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=include, column_types={n: pa.string() for n in include},
                null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True))

    try:
        table = parse(use_threads=True)
    except pa.ArrowInvalid:
        table = None   # parsed again below, where the error names the row
    try:
        if table is None or invalid:
            table = parse(use_threads=False)
    except pa.ArrowInvalid as exc:  # e.g. an unterminated quote; pyarrow names the row
        raise SourceFileError(f"{info.name}: cannot parse as CSV: {str(exc)[:300]}") from None
    n_rows = table.num_rows
    arrays = {}
    for col, src in zip(positions, include):  # strip; blank becomes missing
        arrays[col] = _stripped(table[src])
        table = table.drop_columns([src])  # frees the parsed column: a national file is ~1 GiB
    frame = pa.table(arrays).to_pandas()
    bad_lines = _locate_invalid(invalid, payload)
    # record k of the file is line k (header = 1); the skipped lines leave gaps
    keep = np.ones(n_rows + len(invalid), dtype=bool)
    keep[bad_lines[(bad_lines >= 2) & (bad_lines < len(keep) + 2)] - 2] = False
    frame.index = pd.Index(np.flatnonzero(keep) + 2, name="source_line")
    sep = info.separator
    reasons = [f"truncated line: {n} of {n_fields} fields" if n < n_fields
               else f"too many fields: {n}, expected {n_fields} (check separator and quoting)"
               for _, n, _ in invalid]
    shown = [_shown_for_line(t, sep, positions, pii) for *_, t in invalid]
    bad = pd.DataFrame({"source_line": bad_lines, "column_name": None, "reason": reasons,
                        "masked_value": shown}, columns=FINDING_COLUMNS)
    return frame, bad


# What utf8_trim_whitespace removes: ASCII blanks and Unicode separators (e.g. no-break space).
_PADDED = r"^[\s\x0b\x1c-\x1f\x85\pZ]|[\s\x0b\x1c-\x1f\x85\pZ]$"


def _stripped(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Surrounding blanks removed, blank as missing; a column with nothing to strip (the
    usual case: the parser already reads empty fields as missing) is returned as it is."""
    if not any(_may_be_padded(chunk) for chunk in column.chunks):
        return column
    if not pc.any(pc.match_substring_regex(column, _PADDED)).as_py():
        return column
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _may_be_padded(chunk: pa.Array) -> bool:
    """False when every value starts and ends with a printable ASCII character other than a
    space, which `_PADDED` cannot match; then the regex need not run. It scanned every value
    and took ~1 s a column on a national listing; this reads two bytes a value (~0.1 s)."""
    if chunk.type not in (pa.string(), pa.large_string()):
        return True
    if len(chunk) == 0:
        return False
    offsets, data = string_buffers(chunk)
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts   # null and empty slots have no edge bytes
    for edge in (data[starts[filled]], data[ends[filled] - 1]):
        if not ((edge > 0x20) & (edge < 0x7F)).all():
            return True
    return False


def _locate_invalid(invalid: list, payload: bytes) -> np.ndarray:
    """Line numbers of the bad lines; when the parser did not number one (it does when
    single-threaded), fall back to finding its text in the file."""
    lines = []
    for number, _, text in invalid:
        if number is None:
            at = payload.find(b"\n" + text.encode("utf-8"))
            number = payload.count(b"\n", 0, at + 1) + 1 if at >= 0 else -1
        lines.append(number)
    return np.asarray(lines, dtype=np.int64)


def _shown_for_line(text: str, sep: str, positions: dict[str, int], pii: Sequence[str]):
    """A pointer into a line that could not be split: the masked personnummer if the source
    has one and the line reaches it, else the line's start (no personal data there)."""
    fields = text.split(sep)
    for col in pii:
        pos = positions.get(col)
        return mask(fields[pos]) if pos is not None and pos < len(fields) else None
    return text[:MAX_SHOWN]


# --- XLSX ----------------------------------------------------------------------------------

def _xlsx_sheet(path: Path) -> pd.DataFrame:
    """The first sheet as text, row 0 = sheet row 1 (calamine keeps blank rows in place).

    The cells as `pd.read_excel(dtype=str, engine="calamine")` reads them, without its per-cell
    parser (4.8 -> 4.0 s for a region listing): whole numbers as integers, dates as midnight
    datetimes, then text; blank and pandas' NA spellings ('NA', 'NULL', ...) missing."""
    from python_calamine import CalamineWorkbook

    try:
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Exception as exc:  # a damaged or mislabelled workbook
        raise SourceFileError(f"{path.name}: cannot read as an Excel workbook: {exc}") from None
    sheet = pd.DataFrame(rows, dtype=object)
    return sheet.apply(_cells_as_text) if len(sheet.columns) else sheet


_NA_TEXTS = sorted(STR_NA_VALUES)  # what read_excel reads as missing by default


def _cells_as_text(cells: pd.Series) -> pd.Series:
    texts = [value if type(value) is str else _cell_text(value) for value in cells]
    return pd.Series(texts, index=cells.index, dtype=object).where(~cells.isin(_NA_TEXTS), None).astype("str")


def _cell_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day)
    return str(value)


def _xlsx_body(sheet: pd.DataFrame, positions: dict[str, int]) -> pd.DataFrame:
    body = sheet.iloc[1:, list(positions.values())]
    body.columns = list(positions)
    body.index = pd.Index(np.arange(2, 2 + len(body)), name="source_line")
    for col in body.columns:  # dates typed in Excel arrive as '2025-03-01 00:00:00'
        body[col] = body[col].astype("str").str.strip().replace("", np.nan)
    return body
