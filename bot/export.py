"""CSV export for any record type: UTF-8 with a byte-order mark (Excel and WPS read a CSV
without one in the system's code page and show Chinese as mojibake), and every text cell that
a spreadsheet would run as a formula (CSV injection, OWASP) prefixed with an apostrophe, which
spreadsheets show as text. `read_cell` undoes the prefix, so an exported file imports again."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:  # noqa: ANN401 (numbers pass as they are)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def read_cell(value: str) -> str:
    """A cell as it was before `safe_cell`."""
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else safe_cell(v) for v in row])
    return out.getvalue().encode("utf-8-sig")
