"""Tiny hand-made source files for the reader and contract tests (no generator needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sources.personnummer import luhn_check_digit

MONTH = "2025-03"
KEY = b"test-key-not-a-secret"


def pnr(birth: str, serial: str, hyphen: bool = False, valid: bool = True) -> str:
    """A synthetic personnummer: birth 'YYYYMMDD', serial 3 digits (odd last digit = male)."""
    nine = np.array([[int(c) for c in birth[2:] + serial]])
    check = int(luhn_check_digit(nine)[0])
    if not valid:
        check = (check + 1) % 10
    return f"{birth}{'-' if hyphen else ''}{serial}{check}"


def units() -> pd.DataFrame:
    """Registry shaped like raw.vardcentraler."""
    rows = [
        ("VC1", "Vårdcentralen Ö", "vardcentral", None, "offentlig", "2020-01-01", None),
        ("VC2", "Stängda VC", "vardcentral", None, "privat", "2020-01-01", "2025-02-28"),
        ("VC3", "Nya VC", "vardcentral", None, "privat", "2025-04-01", None),
        ("F1", "Filialen", "filial", "VC1", "offentlig", "2020-01-01", None),
        ("J1", "Jouren", "jour", None, "offentlig", "2020-01-01", "2025-03-14"),
    ]
    frame = pd.DataFrame(rows, columns=["hsa_id", "name", "unit_type", "parent_hsa_id",
                                        "owner_type", "opened_on", "closed_on"])
    frame["opened_on"] = pd.to_datetime(frame["opened_on"]).dt.date
    frame["closed_on"] = pd.to_datetime(frame["closed_on"]).dt.date
    return frame.assign(provider_name=None, municipality_code="0180", rural_tier=0,
                        listing_cap=pd.NA, cap_from=None, cap_to=None)


LISTING_HEADER = ["personnummer", "vardcentral_hsa_id", "listed_from", "listing_type",
                  "fast_lakare_hsa_id", "sabo", "deso"]
VISITS_HEADER = ["contact_id", "personnummer", "vardcentral_hsa_id", "contact_date",
                 "contact_type", "profession", "staff_hsa_id", "status", "new_problem",
                 "first_contact_date", "patient_chose_later"]
TELEPHONY_HEADER = ["call_id", "vardcentral_hsa_id", "called_at", "queue", "outcome",
                    "callback_at", "in_opening_hours"]


def listing_rows() -> list[list[str]]:
    return [
        [pnr("19850312", "123"), "VC1", "2020-05-01", "aktiv", "SE-DOC1", "0", "0180C1010"],
        [pnr("19400229", "246", hyphen=True), "VC1", "2025-03-10", "passiv", "", "ja",
         "0180C1020"],
        [pnr("20010101", "111"), "VC1", "2024-12-24", "Aktiv", "", "FALSE", ""],
    ]


def visits_rows() -> list[list[str]]:
    return [
        ["K1", pnr("19850312", "123"), "VC1", "2025-03-03", "besok", "lakare", "SE-DOC1",
         "genomford", "1", "2025-03-01", "0"],
        ["K2", pnr("19850372", "124"), "F1", "2025-03-04", "video", "psykolog", "",
         "genomford", "nej", "", "nej"],  # samordningsnummer (day 12 + 60)
        ["K3", "RES-0042", "J1", "2025-03-05", "telefon", "sjukskoterska", "", "avbokad",
         "true", "2025-03-05", "false"],  # reserve number
    ]


def telephony_rows() -> list[list[str]]:
    return [
        ["C1", "VC1", "2025-03-03 08:01:00", "tidsbokning", "answered", "", "1"],
        ["C2", "F1", "2025-03-03T09:15", "sjukvardsradgivning", "callback_done",
         "2025-03-03 10:00:00", "ja"],
        ["C3", "VC1", "2025-03-31 23:59:59", "ovrigt", "abandoned", "", "0"],
    ]


def write_csv(path: Path, header: list[str], rows: list[list[str]], sep: str = ";",
              encoding: str = "utf-8", trailing_newline: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(sep.join(r) for r in [header, *rows]) + ("\n" if trailing_newline else "")
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list]) -> Path:
    from openpyxl import Workbook
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.create_sheet("notes").append(["not read"])
    book.save(path)
    return path
