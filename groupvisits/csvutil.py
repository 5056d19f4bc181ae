"""CSV exports that open safely in a spreadsheet: a byte-order mark, and free text kept from
being read as a formula (CSV injection).
"""

import csv
import io
from collections.abc import Iterable

#: Written first: spreadsheet programs then read the file as UTF-8, so that "Peña" or
#: "Nguyễn" open as written.
BOM = "\ufeff"
#: A cell starting with one of these is a formula (or becomes one) to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str | None) -> str:
    """Free text as a cell no spreadsheet runs: a leading quote before a formula's start."""
    value = value or ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_text(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """The header and rows as CSV text, after the byte-order mark.

    Cells are written as given: pass free text through :func:`safe_cell`.
    """
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
