"""Print a month's workbooks as a controller would: LibreOffice headless → PDF, then check them.

    .venv/bin/python scripts/render_check.py FOLDER [--vc HSA_ID] [--pdf-dir DIR] [--png]

FOLDER is a month's statement folder (`<data>/statements/<YYYY-MM>`). Converts one VC's
statement (the first, or --vc) and the region workbook to PDF and checks:
  - the statement prints on at most MAX_STATEMENT_PAGES A4 pages, with every component, its
    basis and the total on page 1;
  - the region workbook's summary sheet prints on exactly one page;
  - no cell prints as `###` (a number too wide for its column), in either PDF.
--png also writes each page as a PNG (pdftoppm) beside the PDFs, to look at.

Exit status: 0 all checks pass; 1 a check failed (each failure printed); 2 LibreOffice
(`soffice`) or poppler-utils (`pdftotext`, `pdfinfo`) is missing.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MAX_STATEMENT_PAGES = 5
SUMMARY_HEADER = "Regionsammanställning ·"     # the summary sheet's page header (region_workbook.py)
TOOLS = ("soffice", "pdftotext", "pdfinfo")


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def to_pdf(workbook: Path, out_dir: Path) -> Path:
    """LibreOffice headless with a profile of its own (no clash with a running LibreOffice)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                        "--outdir", str(out_dir), str(workbook)], check=True, capture_output=True, timeout=300)
    pdf = out_dir / f"{workbook.stem}.pdf"
    if not pdf.is_file():
        raise RuntimeError(f"LibreOffice wrote no PDF for {workbook}")
    return pdf


def page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def page_texts(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def check_statement(pdf: Path, component_labels: list[str]) -> list[str]:
    problems = []
    pages = page_texts(pdf)
    if len(pages) > MAX_STATEMENT_PAGES:
        problems.append(f"{pdf.name}: {len(pages)} pages, at most {MAX_STATEMENT_PAGES}")
    first = pages[0] if pages else ""
    missing = [label for label in [*component_labels, "Summa"] if label not in first]
    if missing:
        problems.append(f"{pdf.name}: not on page 1: {', '.join(missing)}")
    problems += _hashes(pdf.name, pages)
    return problems


def check_region(pdf: Path) -> list[str]:
    pages = page_texts(pdf)
    summary_pages = [i + 1 for i, page in enumerate(pages) if SUMMARY_HEADER in page]
    problems = [] if len(summary_pages) == 1 else [
        f"{pdf.name}: the summary sheet prints on {len(summary_pages)} pages ({summary_pages}), not 1"]
    return problems + _hashes(pdf.name, pages)


def _hashes(name: str, pages: list[str]) -> list[str]:
    return [f"{name}: page {i + 1} shows ### (a column too narrow for its number)"
            for i, page in enumerate(pages) if "###" in page]


def to_png(pdf: Path) -> None:
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "80", "-png", str(pdf), str(pdf.with_suffix(""))], check=True)


def render_check(folder: Path, pdf_dir: Path, vc: str | None = None, png: bool = False) -> list[str]:
    """The problems found (empty: all checks pass)."""
    import openpyxl

    from core.labels import COMPONENTS

    statements = sorted(folder.glob(f"ersattningsunderlag_*_{vc or ''}*.xlsx"))
    regions = sorted(folder.glob("region_summary_*.xlsx"))
    if not statements or not regions:
        return [f"{folder}: no statement{' of ' + vc if vc else ''} or no region workbook"]
    statement = statements[0]
    # the components this statement has (a region without a component shows no line for it)
    sheet = openpyxl.load_workbook(statement, read_only=True).worksheets[0]
    shown = {row[0] for row in sheet.iter_rows(values_only=True) if row}
    labels = [label for _, label in COMPONENTS if label in shown]
    statement_pdf, region_pdf = to_pdf(statement, pdf_dir), to_pdf(regions[0], pdf_dir)
    if png:
        to_png(statement_pdf)
        to_png(region_pdf)
    return check_statement(statement_pdf, labels) + check_region(region_pdf)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--vc", help="HSA-id of the statement to check (default: the first)")
    parser.add_argument("--pdf-dir", type=Path, help="where the PDFs go (default: FOLDER/pdf)")
    parser.add_argument("--png", action="store_true", help="also write each page as PNG")
    args = parser.parse_args(argv)
    if missing := missing_tools():
        print(f"missing: {', '.join(missing)} (apt-get install -y libreoffice-calc poppler-utils)", file=sys.stderr)
        return 2
    problems = render_check(args.folder, args.pdf_dir or args.folder / "pdf", args.vc, args.png)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"ok: {args.folder}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
