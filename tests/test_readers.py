"""Reading delivered files: formats, encodings, separators, columns and broken files."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from sources.listing import ACCEPTED_COLUMNS as LISTING_COLUMNS
from sources.reading import QUARANTINE_COLUMNS, SourceFileError, _xlsx_sheet, read_table
from tests.source_fixtures import (
    KEY,
    LISTING_HEADER,
    MONTH,
    TELEPHONY_HEADER,
    VISITS_HEADER,
    listing_rows,
    pnr,
    telephony_rows,
    units,
    write_csv,
    write_xlsx,
)
from validations.intake import read_listing, read_telephony, read_visits


def _listing(tmp_path, **kwargs):
    write_csv(tmp_path / MONTH / "listing.csv", LISTING_HEADER, listing_rows(), **kwargs)
    return read_listing(tmp_path, MONTH, units(), KEY)


@pytest.mark.parametrize("sep", [",", ";"])
@pytest.mark.parametrize("encoding,recorded", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"),
                                               ("cp1252", "cp1252")])
def test_csv_separator_and_encoding_detected(tmp_path, sep, encoding, recorded):
    header = [*LISTING_HEADER, "kommentar"]
    rows = [[*r, "Vårdcentral Ö"] for r in listing_rows()]
    write_csv(tmp_path / MONTH / "listing.csv", header, rows, sep=sep, encoding=encoding)
    result = read_listing(tmp_path, MONTH, units(), KEY)
    assert (result.file.separator, result.file.encoding) == (sep, recorded)
    assert result.file.file_format == "csv" and result.file.extra_columns == ["kommentar"]
    assert result.rows_read == 3 and len(result.accepted) == 3, result.quarantine
    assert list(result.accepted.columns) == LISTING_COLUMNS
    assert list(result.quarantine.columns) == QUARANTINE_COLUMNS
    assert result.accepted["source_line"].tolist() == [2, 3, 4]
    assert set(result.accepted["source_file"]) == {"listing.csv"}


def test_accepted_listing_is_typed_and_pseudonymised(tmp_path):
    accepted = _listing(tmp_path).accepted
    assert accepted["sex"].tolist() == ["male", "female", "male"]
    assert accepted["birth_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "1985-03-12", "1940-02-29", "2001-01-01"]
    assert accepted["listing_type"].tolist() == ["aktiv", "passiv", "aktiv"]  # 'Aktiv' lowered
    assert accepted["is_sabo"].tolist() == [False, True, False]
    assert accepted["listed_from"].dtype.kind == "M"
    assert accepted["person_key"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert not accepted.astype(str).apply(lambda c: c.str.contains("19850312")).any().any()


def test_case_insensitive_columns_and_extra_columns(tmp_path):
    header = [" PersonNummer ", "VARDCENTRAL_HSA_ID", "Listed_From", "listing_type",
              "fast_lakare_hsa_id", "SABO", "deso", "Extra1", "extra2"]
    write_csv(tmp_path / MONTH / "listing.csv", header,
              [[*r, "x", "y"] for r in listing_rows()])
    result = read_listing(tmp_path, MONTH, units(), KEY)
    assert len(result.accepted) == 3
    assert result.file.extra_columns == ["Extra1", "extra2"]


def test_xlsx_first_sheet_header_row_one(tmp_path):
    rows = listing_rows()
    rows[0][0] = int(rows[0][0])                                  # a number cell
    rows[0][2] = pd.Timestamp("2020-05-01").to_pydatetime()       # a date cell
    rows.insert(1, [None] * 7)                                    # a blank sheet row 3
    write_xlsx(tmp_path / MONTH / "listing.xlsx", [h.upper() for h in LISTING_HEADER], rows)
    result = read_listing(tmp_path, MONTH, units(), KEY)
    assert result.file.file_format == "xlsx" and result.file.encoding is None
    assert result.accepted["source_line"].tolist() == [2, 4, 5]   # sheet rows
    assert result.accepted["listed_from"].iloc[0] == pd.Timestamp("2020-05-01")
    assert result.quarantine[["source_line", "reason"]].values.tolist() == [[3, "empty line"]]


def test_xlsx_cells_read_as_read_excel_reads_them_as_text(tmp_path):
    """_xlsx_sheet skips read_excel's per-cell parser; the text must stay what it gave."""
    import datetime

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["personnummer", "Listed_From", "sabo", "x", "y"],
                ["19500101-1234", datetime.date(2025, 3, 1), 0, "NA", 1.5],
                ["19500101-1234", datetime.datetime(2025, 3, 1, 12, 30), 1.0, "", True],
                [None] * 5,
                ["  padded ", "2025-03-01", "NULL", "n/a", datetime.time(12, 30)],
                [12345, -3, 1e20, "None", False]):
        sheet.append(row)
    sheet.cell(row=9, column=2, value="a late row")
    book.save(tmp_path / "cells.xlsx")
    expected = pd.read_excel(tmp_path / "cells.xlsx", sheet_name=0, header=None, dtype=str, engine="calamine")
    got, name, others = _xlsx_sheet(tmp_path / "cells.xlsx")
    pd.testing.assert_frame_equal(got, expected)
    assert got.iloc[1].tolist()[:3] == ["19500101-1234", "2025-03-01 00:00:00", "0"]


def test_missing_file_names_expected_paths(tmp_path):
    with pytest.raises(SourceFileError, match=r"listing\.csv or .*listing\.xlsx"):
        read_listing(tmp_path, MONTH, units(), KEY)
    with pytest.raises(SourceFileError, match=r"missing file: expected .*2025-03/telephony\.csv"):
        read_telephony(tmp_path, MONTH, units())


def test_both_listing_formats_is_an_error(tmp_path):
    write_csv(tmp_path / MONTH / "listing.csv", LISTING_HEADER, listing_rows())
    write_xlsx(tmp_path / MONTH / "listing.xlsx", LISTING_HEADER, listing_rows())
    with pytest.raises(SourceFileError, match="both .*listing.csv and .*listing.xlsx"):
        read_listing(tmp_path, MONTH, units(), KEY)


def test_missing_column_names_file_column_and_found_columns(tmp_path):
    header = [("listningstyp" if h == "listing_type" else h) for h in LISTING_HEADER]
    write_csv(tmp_path / MONTH / "listing.csv", header, listing_rows())
    with pytest.raises(SourceFileError) as err:
        read_listing(tmp_path, MONTH, units(), KEY)
    message = str(err.value)
    assert "listing.csv" in message and "'listing_type'" in message
    assert "'listningstyp'" in message and "line 1" in message


@pytest.mark.parametrize("content,expected", [
    (b"", "empty file (0 bytes)"),
    (";".join(LISTING_HEADER).encode() + b"\n", "header only, no data rows"),
    (";".join(LISTING_HEADER).encode(), "header only, no data rows"),
])
def test_empty_and_header_only_files(tmp_path, content, expected):
    (tmp_path / MONTH).mkdir()
    (tmp_path / MONTH / "listing.csv").write_bytes(content)
    with pytest.raises(SourceFileError, match=re.escape(f"listing.csv: {expected}")):
        read_listing(tmp_path, MONTH, units(), KEY)


def test_undetectable_separator(tmp_path):
    write_csv(tmp_path / MONTH / "listing.csv", LISTING_HEADER, listing_rows(), sep="\t")
    with pytest.raises(SourceFileError, match=r"listing.csv: line 1: .*separator.*tab"):
        read_listing(tmp_path, MONTH, units(), KEY)


def test_truncated_last_line_is_quarantined_with_line_number(tmp_path):
    path = write_csv(tmp_path / MONTH / "listing.csv", LISTING_HEADER, listing_rows())
    # line 5 cut inside its 3rd field, without a line break
    path.write_bytes(path.read_bytes() + pnr("19900101", "222").encode() + b";VC1;2025-0")
    result = read_listing(tmp_path, MONTH, units(), KEY)
    assert result.rows_read == 4 and len(result.accepted) == 3
    row = result.quarantine.iloc[0]
    assert (row.source_file, row.source_line, row.reason) == (
        "listing.csv", 5, "truncated line: 3 of 7 fields")
    assert row.masked_value == "19900101-****" and pd.isna(row.column_name)


def test_lines_with_wrong_field_count_keep_line_numbers(tmp_path):
    rows = listing_rows()
    rows.insert(1, rows[0][:4])                 # line 3: cut mid-way
    rows.insert(3, [*rows[2], "extra", "more"])  # line 5: too many fields
    rows.insert(4, [""] * 7)                     # line 6: empty
    write_csv(tmp_path / MONTH / "listing.csv", LISTING_HEADER, rows, sep=",")
    result = read_listing(tmp_path, MONTH, units(), KEY)
    quarantine = result.quarantine.set_index("source_line")["reason"]
    assert quarantine.loc[3] == "truncated line: 4 of 7 fields"
    assert quarantine.loc[5].startswith("too many fields: 9, expected 7")
    assert quarantine.loc[6] == "empty line"
    assert result.accepted["source_line"].tolist() == [2, 4, 7]
    assert result.rows_read == 6


def test_undecodable_bytes_quarantine_their_line(tmp_path):
    path = write_csv(tmp_path / MONTH / "listing.csv", LISTING_HEADER, listing_rows())
    path.write_bytes(path.read_bytes() + b"1985\x81\x8d;VC1\n")  # undefined in Windows-1252
    result = read_listing(tmp_path, MONTH, units(), KEY)
    assert result.rows_read == 4 and len(result.accepted) == 3
    row = result.quarantine.iloc[0]
    assert (row.source_line, row.column_name, row.reason) == (
        5, "personnummer", "byte 0x81 that is neither UTF-8 nor Windows-1252 in field 1 "
                           "(personnummer) at character 5")
    assert row.masked_value == "****"


def test_blank_trailing_lines_are_not_rows(tmp_path):
    path = write_csv(tmp_path / MONTH / "telephony.csv", TELEPHONY_HEADER, telephony_rows())
    path.write_bytes(path.read_bytes() + b"\n\r\n;;;;;;\n")
    result = read_telephony(tmp_path, MONTH, units())
    assert result.rows_read == 3 and result.quarantine.empty


def test_read_table_values_are_stripped_text(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n  x , 007 \n,\n y,NA\n")
    table = read_table(path, ["a", "b"])
    assert table.frame["b"].tolist()[0] == "007"          # text, leading zeros kept
    assert table.frame.loc[4, "b"] == "NA"                 # 'NA' is a value, not missing
    assert table.bad_lines["reason"].tolist() == ["empty line"]


def test_any_blank_padding_is_stripped_and_clean_columns_kept(tmp_path):
    # A column is only rewritten when some value is padded; then by Unicode's blanks too.
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n\u00a0x,1,p\ny\t,2,q\n\u2003,3,r\n\x1fz ,4,s\n", encoding="utf-8")
    frame = read_table(path, ["a", "b", "c"]).frame
    assert frame["a"].tolist()[:2] == ["x", "y"] and frame.loc[5, "a"] == "z"
    assert pd.isna(frame.loc[4, "a"])                      # only blanks: missing
    assert frame["b"].tolist() == ["1", "2", "3", "4"] and frame["c"].tolist() == list("pqrs")


@pytest.mark.parametrize("padded", ["x\u00a0", "\u2003x", "x\x0b", "\x1cx", "x\u0085", " x", "x\t"])
def test_one_padded_value_among_plain_ones_is_stripped(tmp_path, padded):
    # The quick test of a column's edge bytes must send any blank at either edge to the strip.
    path = tmp_path / "t.csv"
    path.write_text(f"a,b\nplain,1\n{padded},2\n\u00e9t\u00e9,3\n", encoding="utf-8")
    assert read_table(path, ["a", "b"]).frame["a"].tolist() == ["plain", "x", "\u00e9t\u00e9"]


def test_move_to_quarantine_keeps_line_numbers(tmp_path):
    result = _listing(tmp_path)
    moved = result.move_to_quarantine(result.accepted["source_line"] == 3, "vardcentral_hsa_id",
                                      "listed in another month")
    assert moved == 1 and result.accepted["source_line"].tolist() == [2, 4]
    row = result.quarantine.iloc[-1]
    assert (row.source_line, row.column_name, row.reason, row.masked_value) == (
        3, "vardcentral_hsa_id", "listed in another month", "VC1")


def _visits_file(tmp_path, n: int) -> tuple[list[str], list[list[str]]]:
    rows = [[f"K{i}", pnr("19850312", f"{i % 1000:03d}"), "VC1", "2025-03-03", "besok", "lakare", "",
             "genomford", "0", "", "0"] for i in range(n)]
    return VISITS_HEADER, rows


@pytest.mark.parametrize("damaged_row", [2, 45])   # near the top, near the end of 58 rows
def test_unclosed_quote_quarantines_its_line_and_no_other(tmp_path, damaged_row):
    header, rows = _visits_file(tmp_path, 58)
    rows[damaged_row][1] = '"' + rows[damaged_row][1]          # opened in the second field
    write_csv(tmp_path / MONTH / "visits.csv", header, rows, sep=",")
    result = read_visits(tmp_path, MONTH, units(), KEY)
    line = damaged_row + 2
    assert result.rows_read == 58 and len(result.accepted) == 57
    assert result.accepted["source_line"].tolist() == [n for n in range(2, 60) if n != line]
    row = result.quarantine.iloc[0]
    assert (row.source_file, row.source_line, row.column_name, row.reason) == (
        "visits.csv", line, "personnummer",
        f"unclosed quote in field 2 (personnummer) at character {len(f'K{damaged_row}') + 2}; "
        "a value cannot run over the line end")
    assert row.masked_value == "****"


def test_quoted_values_and_literal_quotes_are_still_values(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'a;b;c\n"x;y";2;3\n4;5";6\n"say ""hi""";8;9\n')
    table = read_table(path, ["a", "b", "c"])
    assert table.frame["a"].tolist() == ["x;y", "4", 'say "hi"'] and table.bad_lines.empty
    assert table.frame.loc[3, "b"] == '5"'


@pytest.mark.parametrize("damage,reason", [
    (b"\x00", "NUL byte in field 2 (b) at character 3"),
    (b"\r", "carriage return inside the line in field 2 (b) at character 3"),
])
def test_nul_and_stray_carriage_return_quarantine_their_line(tmp_path, damage, reason):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a;b;c\n1;2;3\n4;" + damage + b"5;6\n7;8;9\n")
    table = read_table(path, ["a", "b", "c"])
    assert table.frame.index.tolist() == [2, 4] and table.rows_read == 3
    assert table.bad_lines[["source_line", "column_name", "reason"]].values.tolist() == [
        [3, "b", reason]]


def test_separator_only_lines_are_empty_lines_like_blank_ones(tmp_path):
    # inside the data: counted and quarantined as 'empty line', whatever their field count;
    # after the last line with a value: not rows, blank or not
    path = tmp_path / "t.csv"
    path.write_bytes(b"a;b;c\n1;2;3\n;;\n\n;;;;;;\n4;5;6\n;;\n;;;;;;;;\n\n")
    table = read_table(path, ["a", "b", "c"])
    assert table.frame.index.tolist() == [2, 6] and table.rows_read == 5
    assert table.bad_lines[["source_line", "reason"]].values.tolist() == [
        [3, "empty line"], [4, "empty line"], [5, "empty line"]]


def test_utf8_file_with_a_foreign_byte_quarantines_only_that_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("a;b\nÅsa;1\nÖrjan;2\n".encode() + b"\xe5ke;3\nEva;4\n")
    table = read_table(path, ["a", "b"])
    assert table.file.encoding == "utf-8" and table.frame["a"].tolist() == ["Åsa", "Örjan", "Eva"]
    assert table.bad_lines[["source_line", "reason"]].values.tolist() == [
        [4, "byte 0xE5 that is not UTF-8 (the rest of the file is UTF-8) in field 1 (a) at character 1"]]


@pytest.mark.parametrize("encoding,expected", [
    ("utf-16", r"the file is UTF-16 \(byte-order mark FF FE\)"),
    ("utf-16-le", r"the file looks like UTF-16 without a byte-order mark"),
])
def test_utf16_file_is_named_as_utf16(tmp_path, encoding, expected):
    write_csv(tmp_path / MONTH / "listing.csv", LISTING_HEADER, listing_rows(), encoding=encoding)
    with pytest.raises(SourceFileError, match=r"^listing\.csv: " + expected + ".*UTF-8"):
        read_listing(tmp_path, MONTH, units(), KEY)


def test_xlsx_with_a_blank_first_sheet_names_the_sheet_read(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Försättsblad"
    data = book.create_sheet("Listning")
    for row in [LISTING_HEADER, *listing_rows()]:
        data.append(row)
    (tmp_path / MONTH).mkdir()
    book.save(tmp_path / MONTH / "listing.xlsx")
    with pytest.raises(SourceFileError, match=r"^listing\.xlsx: sheet 'Försättsblad' \(the first, "
                       r"which is the one read\) has no header in row 1; other sheets: 'Listning'"):
        read_listing(tmp_path, MONTH, units(), KEY)


def test_xlsx_missing_column_names_the_sheet(tmp_path):
    header = [("listningstyp" if h == "listing_type" else h) for h in LISTING_HEADER]
    write_xlsx(tmp_path / MONTH / "listing.xlsx", header, listing_rows())
    with pytest.raises(SourceFileError, match=r"^listing\.xlsx \(sheet 'Sheet'\): missing required "
                                              r"column 'listing_type'"):
        read_listing(tmp_path, MONTH, units(), KEY)
