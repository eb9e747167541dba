"""Exports for any record type. Documents (Word, Markdown) go to chat as files with these
media types, and what people typed is written into Markdown as text (`markdown_text`).

CSV: UTF-8 with a byte-order mark (Excel and WPS read a CSV
without one in the system's code page and show Chinese as mojibake), and every text cell that
a spreadsheet would run as a formula (CSV injection, OWASP) prefixed with an apostrophe, which
spreadsheets show as text. `read_cell` undoes the prefix, so an exported file imports again."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MARKDOWN_MIME = "text/markdown; charset=utf-8"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def markdown_text(text: object) -> str:
    """`text` with every character Markdown gives a meaning escaped: it reads as typed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


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


# What a CSV file people send may be in: UTF-8 (with or without a BOM, "CSV UTF-8"), else
# Chinese Excel's and WPS's default "CSV" (GBK; GB18030 reads it and is a superset).
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


def csv_text(data: bytes) -> str:
    """A CSV (or YAML) file's text, read in the first of CSV_ENCODINGS that fits;
    UnicodeDecodeError when none does."""
    for encoding in CSV_ENCODINGS[:-1]:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    return data.decode(CSV_ENCODINGS[-1])


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]],
              verbatim: Collection[int] = ()) -> bytes:
    """`verbatim`: the columns written as they are, not kept from running as a formula, for
    values the caller has validated to be harmless and that a tool reads as typed (a mobile
    number checked against ^\\+?\\d{7,15}$ for an SMS tool)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else v if n in verbatim else safe_cell(v)
                         for n, v in enumerate(row)])
    return out.getvalue().encode("utf-8-sig")
