"""Every communication record as one CSV file: `liaison comm export [--out FILE]`.

Written by bot.export (a byte-order mark for Excel, formulas escaped). Column headers and
choice values are the labels of one locale; times are local to the configured zone, which the
headers name.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.export import csv_bytes
from bot.render import Renderer
from handlers.comm.models import CommRecord

COLUMNS = (
    "ref", "state", "owner", "audience", "audience_name", "topic", "goal", "goal_text",
    "materials", "channel", "strategy", "created_at", "started_at", "contact_at",
    "contact_how", "message_text", "feedback", "followup_at", "followup_how", "executed_at",
    "review_score", "review_measure", "review_problem", "review_problems", "review_improve",
    "reviewed_at",
)
# Columns whose value is a choice, shown by its label.
LABELLED = {
    "state": "state", "audience": "audience", "goal": "goal", "channel": "channel",
    "contact_how": "contact_how", "followup_how": "followup_how", "review_problem": "problem",
}
def cells(record: CommRecord, renderer: Renderer, locale: str, zone: ZoneInfo) -> list[Any]:
    out: list[Any] = []
    for column in COLUMNS:
        if column == "owner":
            value: Any = record.owner_name
        elif column == "feedback":
            value = "\n".join(str(item.get("text", "")) for item in record.feedback)
        elif column in ("materials", "review_problems"):
            value = "\n".join(getattr(record, column))
        else:
            value = getattr(record, column)
        if column in LABELLED and value:
            value = renderer.label(locale, f"comm.{LABELLED[column]}.{value}")
        if isinstance(value, datetime):
            value = value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        out.append(value)
    return out


def export_csv(session: Session, renderer: Renderer, locale: str, zone: ZoneInfo) -> bytes:
    header = [renderer.label(locale, f"comm.csv.{c}").format(zone=zone.key) for c in COLUMNS]
    query = select(CommRecord).order_by(col(CommRecord.year), col(CommRecord.seq))
    return csv_bytes(header, (cells(r, renderer, locale, zone) for r in session.exec(query)))


def export_command(settings: Settings, out: str | None, locale: str | None) -> int:
    """The CLI: write the file (or standard output) and say on stderr how many rows."""
    from bot.db import Database

    renderer = Renderer(settings.default_locale)
    loc = renderer.locale(locale)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            data = export_csv(session, renderer, loc, settings.zone)
            count = session.exec(select(func.count()).select_from(CommRecord)).one()
    finally:
        db.dispose()
    if out:
        Path(out).write_bytes(data)
        print(f"{count} communication records written to {out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


def cli(sub: Any) -> None:  # noqa: ANN401 (argparse's sub-parsers)
    """`liaison comm export [--out FILE] [--locale zh|en]`."""
    comm = sub.add_parser(
        "comm", help="communication records (/comm)", description="Communication records."
    )
    comm_sub = comm.add_subparsers(dest="comm_command", metavar="COMM_COMMAND")
    export = comm_sub.add_parser(
        "export",
        help="write every communication record as CSV",
        description="Write every communication record as CSV (UTF-8 with a BOM, so spreadsheet "
        "programs show Chinese correctly), to FILE or standard output.",
    )
    export.add_argument("--out", metavar="FILE", default=None, help="the file to write")
    export.add_argument(
        "--locale", choices=("zh", "en"), default=None,
        help="language of headers and values (default: the setting)",
    )
    export.set_defaults(run=lambda settings, args: export_command(settings, args.out, args.locale))
