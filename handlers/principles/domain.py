"""The principles check as a domain: it has no chat commands, only the word lists admins
extend (`liaison principles import FILE`, a YAML file like data/zh.yaml), stored in the
database so every replica reads the same lists."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from bot.config import Settings
from handlers.principles import DOMAIN
from handlers.principles.check import WordLists, default_lists
from handlers.principles.models import PrincipleWord

WORD_MAX = 100


def lists(session: Session) -> WordLists:
    """The shipped lists plus the words admins imported."""
    rows = session.exec(select(PrincipleWord.category, PrincipleWord.word)).all()
    return default_lists().plus(WordLists.of(rows)) if rows else default_lists()


def import_file(session: Session, path: Path) -> tuple[int, int]:
    """Add the file's words; (added, already listed). ValueError names what is wrong."""
    new = WordLists.read([path]).rows()
    long = [w for _, w in new if len(w) > WORD_MAX]
    if long:
        raise ValueError(f"{path.name}: words over {WORD_MAX} characters: {long[0][:40]}…")
    have = set(lists(session).rows())
    added = [row for row in dict.fromkeys(new) if row not in have]
    for category, word in added:
        session.add(PrincipleWord(category=category, word=word))
    return len(added), len(new) - len(added)


def _import_command(settings: Settings, args: Any) -> int:  # noqa: ANN401 (argparse)
    from bot.db import Database

    db = Database(settings.database_url)
    try:
        db.upgrade()
        with db.session() as session:
            added, known = import_file(session, Path(args.file))
    except (OSError, ValueError) as exc:
        print(f"Nothing imported: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print(f"{added} words added to the principles check ({known} already listed)",
          file=sys.stderr)
    return 0


def cli(sub: Any) -> None:  # noqa: ANN401 (argparse's sub-parsers)
    parser = sub.add_parser("principles", help="the principles check's word lists")
    commands = parser.add_subparsers(dest="principles_command", required=True)
    imp = commands.add_parser("import", help="add the words of a YAML file (see data/zh.yaml)")
    imp.add_argument("file")
    imp.set_defaults(run=_import_command)


DOMAIN.cli = cli
