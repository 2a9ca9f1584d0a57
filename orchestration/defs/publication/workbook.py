"""Workbook layout shared by the VC statement and the region workbook (openpyxl).

One number format per kind of figure, explicit fonts, column widths measured from what was
written, A4 page set-up (orientation, fit to width, repeated header rows, header and footer
with page numbers), and a save that gives the same bytes for the same content: fixed document
times and zip entry times, and an unchanged file is left untouched (a file share sees no
change when nothing changed).
"""
from __future__ import annotations

import copy
import datetime as dt
import io
import os
import uuid
import zipfile
from pathlib import Path

# One number format per kind of figure.
SEK = '#,##0 "kr";-#,##0 "kr"'          # amounts, whole kronor (stored unrounded)
SEK_RATE = '#,##0.00 "kr"'              # rates and fees per unit, to the öre
COUNT = "#,##0"                          # persons, contacts, months
SHARE = "0.0 %"                          # shares, fulfilment and VAT %, stored as fractions
INDEX = "0.00"                           # continuity (COC), an index 0–1; its targets too
RATIO = "#,##0.0"                        # a ratio of counts (listed per named GP)
FACTOR = "0.0000"                        # the VC's CNI
WEIGHT = "#,##0.0000"                    # ACG weight sums

INDICATOR_FORMAT = {"count": COUNT, "share": SHARE, "index": INDEX, "ratio": RATIO}   # by labels.indicator_kind

FONT_NAME = "Arial"
FONT_SIZE = 9
FIXED_TIME = dt.datetime(2000, 1, 1)    # document created/modified: content, not the clock, decides the bytes
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def styles() -> dict:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    thin = Side(style="thin", color="999999")
    base = dict(name=FONT_NAME, size=FONT_SIZE)
    return {
        "body": Font(**base),
        "title": Font(name=FONT_NAME, size=13, bold=True),
        "h2": Font(name=FONT_NAME, size=10, bold=True),
        "bold": Font(**base, bold=True),
        "note": Font(**base, italic=True, color="555555"),
        "header_fill": PatternFill("solid", fgColor="DDE6F0"),
        "section_fill": PatternFill("solid", fgColor="F2F2F2"),
        "total_border": Border(top=thin, bottom=Side(style="double", color="333333")),
        "wrap": Alignment(wrap_text=True, vertical="bottom"),
        "center": Alignment(horizontal="center"),
        "fills": {"met": PatternFill("solid", fgColor="C6EFCE"), "close": PatternFill("solid", fgColor="FFEB9C"),
                  "missed": PatternFill("solid", fgColor="FFC7CE")},
    }


def _shown_length(value, number_format: str | None) -> int:
    """About how many characters a cell shows: widths are measured from this."""
    if value is None:
        return 0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        fmt = number_format or ""
        if "p.e." in fmt:
            text = f"{value:.1f} p.e."
        elif "%" in fmt:
            text = f"{value * 100:.1f} %"
        elif "0.0000" in fmt:
            text = f"{value:,.4f}"
        elif "0.00" in fmt:
            text = f"{value:,.2f}"
        else:
            text = f"{value:,.0f}"
        return len(text) + (3 if "kr" in fmt else 0) + 1
    return max(len(part) for part in str(value).split("\n"))


class Sheet:
    """Writes a sheet top-down with fonts and formats, and measures each column's content."""

    def __init__(self, ws, st: dict):
        self.ws, self.st, self.row = ws, st, 1
        self.widths: dict[int, int] = {}
        self.header_rows: list[int] = []
        self.numeric_columns: set[int] = set()
        self._styles: dict[tuple, object] = {}

    def _measure(self, col: int, length: int) -> None:
        self.widths[col] = max(self.widths.get(col, 0), length)

    def text(self, value, style: str = "body", col: int = 1):
        """A line of text (title, note): not measured, it may run over the empty cells beside it."""
        cell = self.ws.cell(row=self.row, column=col, value=value)
        cell.font = self.st[style]
        self.row += 1
        return cell

    def blank(self, n: int = 1):
        self.row += n

    def header(self, labels: list[str], widths: dict[int, int] | None = None):
        """A header row; labels wrap at word boundaries within the column widths given (or the
        longest word), and the row is made tall enough for the wrapped lines."""
        lines = 1
        for i, label in enumerate(labels, start=1):
            cell = self.ws.cell(row=self.row, column=i, value=label)
            cell.font = self.st["bold"]
            cell.fill = self.st["header_fill"]
            cell.alignment = self.st["wrap"]
            if label:
                longest_word = max(len(w) for w in str(label).split())
                self._measure(i, longest_word + 1)
                width = max((widths or {}).get(i, 0), self.widths.get(i, 0), longest_word + 1)
                lines = max(lines, _wrapped_lines(str(label), width))
        self.ws.row_dimensions[self.row].height = 11.5 * lines + 3
        self.header_rows.append(self.row)
        self.row += 1

    def line(self, values: list, formats: list[str | None] | None = None, bold: bool = False,
             total: bool = False, fills: dict[int, object] | None = None):
        for i, value in enumerate(values, start=1):
            if isinstance(value, float) and value != value:
                value = None
            fmt = formats[i - 1] if formats and i - 1 < len(formats) else None
            fill = fills.get(i) if fills else None
            if value is None and fill is None and not total:
                continue                   # an empty cell without a style: not written at all
            cell = self.ws.cell(row=self.row, column=i, value=value)
            self._style(cell, fmt, bold or total, total, fill)
            self._measure(i, _shown_length(value, fmt) + (1 if bold or total else 0))
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.numeric_columns.add(i)
        self.row += 1

    def _style(self, cell, fmt, bold: bool, total: bool, fill) -> None:
        """Font, format, border and fill, copied from the first cell styled alike: openpyxl
        hashes every style object it is given (most of a workbook's time otherwise)."""
        key = (fmt, bold, total, None if fill is None else fill.fgColor.rgb)
        cached = self._styles.get(key)
        if cached is not None:
            cell._style = copy.copy(cached)
            return
        if fmt:
            cell.number_format = fmt
        cell.font = self.st["bold"] if bold else self.st["body"]
        if total:
            cell.border = self.st["total_border"]
        if fill is not None:
            cell.fill = fill
        self._styles[key] = copy.copy(cell._style)

    def indent(self, col: int, from_row: int) -> None:
        """Text cells of a column that follows a column of numbers: one character in, so the two
        never touch."""
        from openpyxl.styles import Alignment

        for (cell,) in self.ws.iter_rows(min_row=from_row, min_col=col, max_col=col):
            if isinstance(cell.value, str):
                cell.alignment = Alignment(horizontal="left", indent=1)

    def fit_widths(self, minimum: int = 6, maximum: int = 60, fixed: dict[int, float] | None = None) -> None:
        from openpyxl.utils import get_column_letter

        for col, length in self.widths.items():
            pad = 2 if col in self.numeric_columns else 1     # numbers (right) never touch the text beside them
            width = (fixed or {}).get(col) or min(max(length + pad, minimum), maximum)
            self.ws.column_dimensions[get_column_letter(col)].width = width
        from openpyxl.styles import Alignment

        right = Alignment(wrap_text=True, vertical="bottom", horizontal="right")
        for row in self.header_rows:   # numbers' headers on the right; heights from the final widths
            lines = 1
            for cell in self.ws[row]:
                if cell.column in self.numeric_columns:
                    cell.alignment = right
                if cell.value:
                    width = self.ws.column_dimensions[get_column_letter(cell.column)].width or 8
                    lines = max(lines, _wrapped_lines(str(cell.value), width))
            self.ws.row_dimensions[row].height = 11.5 * lines + 3


def _wrapped_lines(text: str, width: float) -> int:
    lines, current = 1, 0
    for word in text.split():
        need = len(word) + (1 if current else 0)
        if current and current + need > width - 1:
            lines, current = lines + 1, len(word)
        else:
            current += need
    return lines


def page_setup(ws, *, landscape: bool, title_rows: tuple[int, int] | None, header: str, footer_left: str,
               fit_height: int = 0) -> None:
    """A4, fit to one page wide (fit_height pages tall, 0 = as many as needed), repeated
    header rows, header with `header` and footer with `footer_left` and 'Sida n av N'."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = fit_height
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.7
    ws.page_margins.header = ws.page_margins.footer = 0.3
    if title_rows:
        ws.print_title_rows = f"{title_rows[0]}:{title_rows[1]}"
    for part, text in ((ws.oddHeader.left, header), (ws.oddFooter.left, footer_left),
                       (ws.oddFooter.right, "Sida &P av &N")):
        part.text = text if text.startswith("Sida") else _escape(text)
        part.font, part.size = FONT_NAME, 8


def _escape(text: str) -> str:
    return text.replace("&", "&&")


def save_stable(wb, path: Path) -> Path:
    """Save so that the same content gives the same bytes, and leave an identical file alone."""
    from openpyxl.writer.excel import ExcelWriter

    wb.properties.created = wb.properties.modified = FIXED_TIME
    wb.properties.creator = wb.properties.lastModifiedBy = "vardval"
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    raw.seek(0)
    stable = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(stable, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, source.read(info.filename))
    return write_if_changed(path, stable.getvalue())


def write_if_changed(path: Path, data: bytes) -> Path:
    """Replace `path` atomically with `data`, unless it already holds exactly these bytes."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

