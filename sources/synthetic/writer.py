"""Writing source files the way real exports vary: separator, encoding, BOM, boolean spelling,
hyphenated personnummer, CSV or Excel. The variant is a fixed function of the calendar month,
so a month's files do not depend on which other months are generated.
"""
from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

BOOL_STYLES = [("1", "0"), ("true", "false"), ("ja", "nej")]
XLSX_MAX_SCALE = 1.5            # Excel tops out near 1 M rows: larger listings are always CSV
FIXED_TIME = dt.datetime(2025, 1, 1, 0, 0, 0)
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Variant:
    fmt: str = "csv"            # 'csv' or 'xlsx'
    sep: str = ","
    bom: bool = False
    bools: tuple = BOOL_STYLES[0]
    hyphen: bool = False        # personnummer as YYYYMMDD-NNNC


def variants(month: str, scale: float) -> dict[str, Variant]:
    """Format of each monthly file, by calendar month number mm (1–12):
    listing   .xlsx when mm % 3 == 0 (Mar, Jun, Sep, Dec) and scale <= 1.5, else CSV with ';' in
              even months; personnummer hyphenated in Jan, May, Sep; booleans cycle 1/0, true/false, ja/nej
    visits    ';' when mm % 4 == 2 (Feb, Jun, Oct); UTF-8 BOM when mm % 4 == 0 (Apr, Aug, Dec);
              hyphenated personnummer in May and Nov
    telephony ';' when mm % 4 == 3 (Mar, Jul, Nov); BOM when mm % 4 == 1 (Jan, May, Sep)
    """
    mm = int(month[5:7])
    xlsx = mm % 3 == 0 and scale <= XLSX_MAX_SCALE
    return {
        "listing": Variant("xlsx" if xlsx else "csv", ";" if mm % 2 == 0 else ",", False,
                           BOOL_STYLES[mm % 3], mm % 4 == 1),
        "visits": Variant("csv", ";" if mm % 4 == 2 else ",", mm % 4 == 0, BOOL_STYLES[(mm + 1) % 3],
                          mm in (5, 11)),
        "telephony": Variant("csv", ";" if mm % 4 == 3 else ",", mm % 4 == 1, BOOL_STYLES[(mm + 2) % 3]),
    }


# ---- column builders (pyarrow, vectorised) -------------------------------------------------

def pnr_column(pnr: np.ndarray, hyphen: bool, reserve: np.ndarray | None = None) -> pa.Array:
    """12-digit personnummer text; rows with a reserve number (not None) take it instead."""
    text = pc.cast(pa.array(pnr, type=pa.int64()), pa.string())
    if hyphen:
        text = pc.binary_join_element_wise(pc.utf8_slice_codeunits(text, 0, 8),
                                           pc.utf8_slice_codeunits(text, 8, 12), "-")
    if reserve is not None:
        is_res = np.not_equal(reserve, None)
        if is_res.any():
            text = pc.if_else(pa.array(is_res), pa.array(reserve, type=pa.string()), text)
    return text


def label_column(labels, index: np.ndarray) -> pa.Array:
    """labels[index], null where index < 0."""
    index = np.asarray(index)
    return pc.take(pa.array(list(labels), type=pa.string()), pa.array(index, mask=index < 0))


def bool_column(values: np.ndarray, style: tuple) -> pa.Array:
    return label_column([style[1], style[0]], np.asarray(values).astype(np.int64))


def date_column(days: np.ndarray) -> pa.Array:
    days = np.asarray(days)
    return pa.array(days.astype(np.int32), type=pa.date32(), mask=days < 0)


def timestamp_column(seconds: np.ndarray) -> pa.Array:
    seconds = np.asarray(seconds)
    return pa.array(seconds.astype(np.int64), type=pa.timestamp("s"), mask=seconds < 0)


def id_column(prefix: str, seq: np.ndarray, width: int = 8) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(np.asarray(seq) + 1), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")


# ---- files -----------------------------------------------------------------------------------

def write_csv(path: Path, table: pa.Table, variant: Variant) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        if variant.bom:
            f.write(BOM)
        f.write((variant.sep.join(table.column_names) + "\n").encode("utf-8"))
        pacsv.write_csv(table, f, pacsv.WriteOptions(include_header=False, delimiter=variant.sep,
                                                    quoting_style="none", batch_size=1 << 16))
    return table.num_rows


def write_xlsx(path: Path, table: pa.Table) -> int:
    """A minimal .xlsx: one sheet, header in row 1, every cell an inline string (as the listing
    system exports it). Written directly as SpreadsheetML because openpyxl needs ~80 s for a
    region's listing; the zip has fixed entry times, so the bytes are identical across runs."""
    body = _sheet_rows(table)
    parts = {
        "[Content_Types].xml": _CONTENT_TYPES, "_rels/.rels": _ROOT_RELS,
        "docProps/core.xml": _CORE, "xl/workbook.xml": _WORKBOOK, "xl/_rels/workbook.xml.rels": _WB_RELS,
        "xl/styles.xml": _STYLES,
        "xl/worksheets/sheet1.xml": _XML + '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="A1:{_col(table.num_columns - 1)}{table.num_rows + 1}"/><sheetData>' + body
        + "</sheetData></worksheet>",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for name, text in parts.items():
            z.writestr(zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6]), text.encode("utf-8"),
                       compress_type=zipfile.ZIP_DEFLATED)
    return table.num_rows


def _col(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def _sheet_rows(table: pa.Table) -> str:
    """<row> elements built column-wise with Arrow string kernels (no per-cell Python)."""
    n = table.num_rows
    rownum = pc.cast(pa.array(np.arange(2, n + 2)), pa.string())
    cells = []
    for i, name in enumerate(table.column_names):
        text = pc.cast(table.column(i), pa.string())
        for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            text = pc.replace_substring(text, a, b)
        cell = pc.binary_join_element_wise(f'<c r="{_col(i)}', rownum, '" t="inlineStr"><is><t>', text,
                                           "</t></is></c>", "")
        cells.append(pc.fill_null(cell, ""))
    rows = pc.binary_join_element_wise('<row r="', rownum, '">', *cells, "</row>", "")
    header = '<row r="1">' + "".join(f'<c r="{_col(i)}1" t="inlineStr"><is><t>{h}</t></is></c>'
                                     for i, h in enumerate(table.column_names)) + "</row>"
    return header + "".join(rows.to_pylist())


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CONTENT_TYPES = _XML + (
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    "</Types>")
_ROOT_RELS = _XML + (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    "</Relationships>")
_CORE = _XML + (
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<dc:creator>Listningssystemet (syntetiskt)</dc:creator>"
    f'<dcterms:created xsi:type="dcterms:W3CDTF">{FIXED_TIME:%Y-%m-%dT%H:%M:%SZ}</dcterms:created>'
    f'<dcterms:modified xsi:type="dcterms:W3CDTF">{FIXED_TIME:%Y-%m-%dT%H:%M:%SZ}</dcterms:modified>'
    "</cp:coreProperties>")
_WORKBOOK = _XML + (
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Listning" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WB_RELS = _XML + (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>")
_STYLES = _XML + (
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>")


def write_table(path_stem: Path, table: pa.Table, variant: Variant) -> tuple[Path, int]:
    if variant.fmt == "xlsx":
        path = path_stem.with_suffix(".xlsx")
        return path, write_xlsx(path, table)
    path = path_stem.with_suffix(".csv")
    return path, write_csv(path, table, variant)
