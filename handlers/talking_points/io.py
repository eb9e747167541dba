"""`liaison tp import FILE` and `liaison tp export`: talking points in and out as CSV or YAML.

An import is all or nothing: every row is checked first, and one bad row refuses the whole
file with the line number of each bad row, so a half-imported set of answers never serves.
Imported points wait for approval unless `--approved-by` names an approver, who then owns
their re-verification like any approval made in chat. Exported CSV is UTF-8 with a BOM, so
Excel opens Chinese text correctly.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from bot import members
from bot.config import Settings
from bot.db import Database
from bot.export import csv_bytes, csv_text, read_cell
from handlers.talking_points import records
from handlers.talking_points.models import PointStatus, TalkingPoint, tag_list
from handlers.talking_points.records import Content, Invalid

COLUMNS = ("topic", "question", "answer", "tags", "language")
# Written by export for people to read; accepted and ignored on import, so a file goes round.
INFO_COLUMNS = ("id", "version", "approved_by", "verified_until")
REQUIRED = ("topic", "question", "answer", "language")
MESSAGES = {
    "empty": "{field} is empty",
    "too_long": "{field} is too long ({length} characters; at most {limit})",
    "tag_too_long": "tag '{tag}' is longer than {limit} characters",
    "too_many_tags": "more than {limit} tags",
    "language": "language must be zh or en",
}


@dataclass(frozen=True)
class Row:
    line: int
    raw: dict[str, Any]


class Refused(Exception):
    """The file was not imported; `problems` are (line, message), line 0 for the file."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class UnknownApprover(Exception):
    pass


# -- reading files ----------------------------------------------------------------------------

def read_rows(path: Path) -> tuple[list[Row], list[tuple[int, str]]]:
    """The rows, and the problems of rows too malformed to check further."""
    try:
        data = csv_text(path.read_bytes())
    except OSError as exc:
        raise Refused([(0, f"cannot read {path}: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise Refused([(0, f"{path} is neither UTF-8 nor GB18030 text")]) from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(data), []
    if suffix in (".yaml", ".yml"):
        return _yaml_rows(data)
    raise Refused([(0, f"{path.name}: use a .csv, .yaml or .yml file")])


def _csv_rows(data: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(data, newline=""))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    _check_columns(header, 1)
    reader.fieldnames = header
    rows, start = [], reader.line_num + 1
    try:
        for record in reader:
            if None in record:  # more cells than the header has
                raise Refused([(start, "more cells than the header has columns")])
            rows.append(Row(start, {k: read_cell(v) for k, v in record.items() if k in COLUMNS}))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise Refused([(reader.line_num, f"not valid CSV: {exc}")]) from None
    return rows


def _yaml_rows(data: str) -> tuple[list[Row], list[tuple[int, str]]]:
    import yaml  # on first use, not at start-up

    try:
        root = yaml.compose(data, Loader=yaml.SafeLoader)
        value = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise Refused([(mark.line + 1 if mark else 0, f"not valid YAML: {exc}")]) from None
    if isinstance(value, dict) and "talking_points" in value:
        value = value["talking_points"]
        root = next(v for k, v in root.value if k.value == "talking_points")
    if not isinstance(value, list):
        raise Refused([(1, "expected a list of talking points (or talking_points: [...])")])
    rows, problems = [], []
    for item, node in zip(value, root.value, strict=True):
        line = node.start_mark.line + 1
        if not isinstance(item, dict):
            problems.append((line, "each entry must be a mapping of " + ", ".join(COLUMNS)))
            continue
        keys = [str(k).strip().lower() for k in item]
        try:
            _check_columns(keys, line, required=False)
        except Refused as exc:
            problems += exc.problems
            continue
        rows.append(Row(line, {str(k).strip().lower(): v for k, v in item.items()}))
    return rows, problems


def _check_columns(names: list[str], line: int, required: bool = True) -> None:
    unknown = [n for n in names if n not in COLUMNS + INFO_COLUMNS]
    if unknown:
        raise Refused([(line, f"unknown column(s) {', '.join(map(repr, unknown))}; "
                              f"expected {', '.join(COLUMNS)}")])
    missing = [n for n in REQUIRED if n not in names] if required else []
    if missing:
        raise Refused([(line, f"missing column(s): {', '.join(missing)}")])


# -- importing --------------------------------------------------------------------------------

def validate(session: Session, rows: list[Row],
             problems: list[tuple[int, str]] | None = None) -> list[tuple[Row, Content]]:
    good, problems = [], list(problems or [])
    seen: dict[tuple[str, str, str], int] = {}
    existing = records.live_keys(session)  # once: a file may hold thousands of rows
    for row in rows:
        try:
            content = records.content_from(row.raw)
        except Invalid as exc:
            problems.append((row.line, MESSAGES[exc.code].format(**exc.params)))
            continue
        key = records.key_of(content)
        if key in seen:
            problems.append((row.line, f"repeats the talking point on line {seen[key]}"))
            continue
        seen[key] = row.line
        if key in existing:
            problems.append((row.line, f"talking point #{existing[key]} already answers this "
                                       "question in this language"))
            continue
        good.append((row, content))
    if problems:
        raise Refused(sorted(problems))
    if not good:
        raise Refused([(0, "the file holds no talking points")])
    return good


def approver(session: Session, settings: Settings, ref: str) -> tuple[str, str]:
    """`platform:user_id` of a member with the approver role (or an admin): (actor, name)."""
    platform, _, user = ref.strip().partition(":")
    member = members.find(session, platform, user_id=user) if user else None
    if member is None:
        raise UnknownApprover(f"--approved-by {ref!r}: no such member; use platform:user_id "
                              "of someone who has talked to the bot, e.g. slack:U0123456789")
    roles = members.roles(session, member, settings.admin_ids)
    if not roles & {"approver", "admin"}:
        raise UnknownApprover(f"--approved-by {ref!r}: {member.display_name} is not an "
                              "approver (an admin can grant it: /role grant @name approver)")
    return f"{member.platform}:{member.user_id}", member.display_name


def import_file(db: Database, settings: Settings, path: Path, *,
                approved_by: str | None = None, now: datetime | None = None) -> list[int]:
    """Import every row or none; returns the new points' ids."""
    now = now or datetime.now(UTC)
    rows, problems = read_rows(path)
    with db.session() as session:
        who = approver(session, settings, approved_by) if approved_by else None
        ids = []
        for _row, content in validate(session, rows, problems):
            point, version = records.propose(session, content, actor=records.IMPORTER,
                                             name=path.name[:200], now=now, source="import")
            if who is not None:
                records.approve(session, point, version, actor=who[0], name=who[1], now=now,
                                review=settings.talking_points.review)
            ids.append(point.id)
        return ids


# -- exporting --------------------------------------------------------------------------------

def export(db: Database, fmt: str = "csv") -> bytes:
    """Every approved point (in date or lapsed) as it is served."""
    with db.session() as session:
        points = session.exec(
            select(TalkingPoint).where(TalkingPoint.status == PointStatus.APPROVED)
            .order_by(col(TalkingPoint.id))
        ).all()
        items = [{
            "id": p.id, "topic": p.topic, "question": p.question, "answer": p.answer,
            "tags": tag_list(p.tags), "language": p.language, "version": p.live_version,
            "approved_by": p.verified_by_name,
            "verified_until": p.verified_until.isoformat() if p.verified_until else "",
        } for p in points]
    if fmt == "yaml":
        import yaml  # on first use, not at start-up

        text = yaml.safe_dump({"talking_points": items}, allow_unicode=True, sort_keys=False,
                              width=100)
        return text.encode("utf-8")
    header = ["id", *COLUMNS, "version", "approved_by", "verified_until"]
    return csv_bytes(header, ([{**item, "tags": ", ".join(item["tags"])}[h] for h in header]
                              for item in items))


# -- the command line -------------------------------------------------------------------------

def cli(sub: Any) -> None:  # noqa: ANN401 (argparse's sub-parsers)
    """`liaison tp import FILE [--approved-by PLATFORM:USER_ID]`, `liaison tp export`."""
    tp = sub.add_parser(
        "tp", help="talking points: import and export (/tp)", description="Talking points."
    )
    tp_sub = tp.add_subparsers(dest="tp_command", metavar="TP_COMMAND")
    tp_import = tp_sub.add_parser(
        "import",
        help="import talking points from a CSV or YAML file (all rows or none)",
        description="Import talking points from FILE (.csv or .yaml; columns topic, question, "
        "answer, tags, language). Every row is checked first: one bad row refuses the whole "
        "file, with the line numbers of the bad rows. Imported points wait for approval "
        "unless --approved-by names an approver. See examples/talking_points.yaml.",
    )
    tp_import.add_argument("file", metavar="FILE", help="a .csv or .yaml file")
    tp_import.add_argument(
        "--approved-by", metavar="PLATFORM:USER_ID", default=None,
        help="approve them at once in the name of this approver (e.g. slack:U0123456789)",
    )
    tp_import.set_defaults(run=run_cli)
    tp_export = tp_sub.add_parser(
        "export",
        help="write the approved talking points as CSV or YAML",
        description="Write every approved talking point (in date or lapsed) to FILE or "
        "standard output; CSV is UTF-8 with a BOM. The file can be imported again.",
    )
    tp_export.add_argument("--format", choices=("csv", "yaml"), default="csv")
    tp_export.add_argument("--out", metavar="FILE", default=None, help="the file to write")
    tp_export.set_defaults(run=run_cli)


def run_cli(settings: Settings, args: Any) -> int:  # noqa: ANN401
    db = Database(settings.database_url)
    try:
        db.upgrade()
        if args.tp_command == "import":
            return _import(db, settings, Path(args.file), args.approved_by)
        data = export(db, args.format)
        if args.out:
            Path(args.out).write_bytes(data)
            print(f"exported to {args.out}", file=sys.stderr)
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        return 0
    finally:
        db.dispose()


def _import(db: Database, settings: Settings, path: Path, approved_by: str | None) -> int:
    try:
        ids = import_file(db, settings, path, approved_by=approved_by)
    except Refused as exc:
        print(f"{path}: nothing imported; fix these and run again:", file=sys.stderr)
        for line, message in exc.problems:
            print(f"  line {line}: {message}" if line else f"  {message}", file=sys.stderr)
        return 1
    except UnknownApprover as exc:
        print(f"nothing imported: {exc}", file=sys.stderr)
        return 2
    state = "approved" if approved_by else "waiting for approval (/tp pending)"
    print(f"imported {len(ids)} talking points (#{ids[0]}–#{ids[-1]}), {state}")
    return 0
