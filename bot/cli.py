"""`liaison run`, `liaison console`, `liaison doctor`, `liaison db ...`, `liaison --version`,
and the sub-commands each domain declares (`liaison comm export`, `liaison tp import`)."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot import __version__
from bot.errors import ConfigError, LiaisonError, StorageError

if TYPE_CHECKING:  # bot.config (pydantic) is imported by main(), after entry() decides on gc
    from bot.config import Settings

CORE_COMMANDS = ("run", "console", "db", "doctor", "--version")


def _parser(*, domains: bool = True) -> argparse.ArgumentParser:
    """The core's commands, and (unless the command line names a core one, which spares
    importing every domain) each domain's."""
    parser = argparse.ArgumentParser(
        prog="liaison",
        description="Liaison: the external-relations handbook as a chat bot "
        "(Slack, DingTalk, or a console chat when neither is configured).",
    )
    parser.add_argument("--version", action="version", version=f"liaison {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser(
        "run",
        help="run the bot: Slack and/or DingTalk when configured, else the console chat",
        description="Migrate the database, then run the bot on every configured platform; "
        "with no Slack or DingTalk settings, open the console chat.",
    )
    console = sub.add_parser(
        "console",
        help="chat with Liaison in this terminal",
        description="Chat with Liaison in this terminal. Reads lines from standard input when "
        "it is not a terminal and prints each reply.",
    )
    console.add_argument("--user", default=None, help="who you are in the chat (default: $USER)")
    console.add_argument(
        "--locale", choices=("zh", "en"), default=None,
        help="your language for this session (default: your /lang, else the setting)"
    )

    doctor = sub.add_parser(
        "doctor",
        help="check the settings, the database and each platform; say what to fix",
        description="Check, in order: settings, database and schema, time zone, templates, "
        "and for Slack and DingTalk the credentials, scopes, connection mode and routed "
        "channels. One line each, OK, WARN or FAIL; the exit status is 0 unless one FAILs.",
    )
    doctor.add_argument(
        "--send-test", action="store_true",
        help="also send a test message to the first routed DingTalk group",
    )

    db = sub.add_parser("db", help="database commands", description="Database commands.")
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND")
    db_sub.add_parser(
        "upgrade",
        help="apply every migration",
        description="Bring the database named by DATABASE_URL to the newest schema.",
    )
    backup = db_sub.add_parser(
        "backup",
        help="back the database up to FILE (SQLite), or print the pg_dump command",
        description="SQLite: copy the database to FILE with SQLite's online backup API, safe "
        "while the bot runs. PostgreSQL: print the pg_dump command to use.",
    )
    backup.add_argument("file", type=Path, metavar="FILE")
    restore = db_sub.add_parser(
        "restore",
        help="restore a backup FILE into the empty database named by DATABASE_URL",
        description="Restore a SQLite backup into the empty database named by DATABASE_URL "
        "(SQLite or PostgreSQL); for a pg_dump file, print the pg_restore command.",
    )
    restore.add_argument("file", type=Path, metavar="FILE")
    copy = db_sub.add_parser(
        "copy",
        help="copy every table into another, empty database (e.g. SQLite to PostgreSQL)",
        description="Copy every table from DATABASE_URL into the empty database --to (migrated "
        "first), in one transaction, keeping ids; then compare the row counts. Stop the bot "
        "first.",
    )
    copy.add_argument("--to", required=True, metavar="URL",
                      help="the target, e.g. postgresql+psycopg://liaison:pw@db/liaison")

    if domains:
        import handlers

        for domain in handlers.DOMAINS:  # each domain adds its own sub-commands
            domain.load()  # its code declares them
            if domain.cli is not None:
                domain.cli(sub)
    return parser


def entry() -> int:
    """The `liaison` command ([project.scripts]). Starting the bot (`run`, `console`) makes a
    few hundred thousand objects that all stay (modules, models, the registry): the cyclic
    garbage collector would scan them over and over, about a sixth of a start
    (bench/startup.py). In such a process it is off until the bot is ready, from before the
    first of them (this module imports bot.config, and with it pydantic, only in `main`); then
    bot.runtime.serve moves them out of later collections (gc.freeze) and turns it on. Other
    commands, and `main` called in-process (the tests), leave it alone."""
    if sys.argv[1:2] in (["run"], ["console"]):
        gc.disable()
    return main()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser(domains=not argv or argv[0] not in CORE_COMMANDS)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "doctor":  # reports a bad setting as one of its lines
        from bot import doctor

        return doctor.main(send_test=args.send_test)
    from bot.config import load_settings

    try:
        settings = load_settings()
        if args.command == "db":
            return _db(parser, args, settings)
        if args.command == "console":
            return _console(settings, args.user, args.locale)
        if args.command not in ("run", "console", "db"):
            if getattr(args, "run", None) is None:  # `liaison tp`: which of its commands?
                parser.parse_args([args.command, "--help"])
            return args.run(settings, args)
        if args.command == "run":
            return _run(settings)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"database error: {exc}", file=sys.stderr)
        return 1
    except LiaisonError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 2


def _db(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot import dbtools
    from bot.db import first_line, safe_url, upgrade

    url = settings.database_url
    try:
        if args.db_command == "upgrade":
            upgrade(url)
            print(f"database is up to date: {safe_url(url)}")
        elif args.db_command == "backup":
            dbtools.backup(url, args.file)
        elif args.db_command == "restore":
            dbtools.restore(url, args.file)
        elif args.db_command == "copy":
            dbtools.copy(url, args.to)
        else:
            parser.parse_args(["db", "--help"])
    except dbtools.DbToolError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"database error: {exc.__class__.__name__}: {first_line(exc)}", file=sys.stderr)
        return 1
    return 0


def _console(settings: Settings, user: str | None, locale: str | None) -> int:
    """The console chat, with the reminder scheduler running so reminders show as they fire."""
    from bot.adapters.console import ConsoleAdapter
    from bot.runtime import build, configure_logging, serve

    configure_logging(settings, chat=True)
    app = build(settings)
    name = user or _login_name()
    history = Path.home() / ".liaison_history" if sys.stdin.isatty() else None
    console = ConsoleAdapter(app, name, history=history, locale=locale)
    serve(app, {"console": console}, foreground=console)
    return 0


def _login_name() -> str:
    import getpass  # the console's only (with termios): a run never needs it

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "you"


def _run(settings: Settings) -> int:
    from bot.runtime import build, configure_logging, make_adapter, platforms_configured, serve

    platforms = platforms_configured(settings)
    if not platforms:
        return _console(settings, None, None)
    configure_logging(settings)
    app = build(settings)
    adapters = {name: make_adapter(name, app, settings) for name in platforms}
    ops = None
    if settings.ops_port or settings.metrics:
        from bot.ops import DEFAULT_PORT, OpsServer

        ops = OpsServer(app.db, port=settings.ops_port or DEFAULT_PORT,
                        metrics_on=settings.metrics).start()
    log_line = ", ".join(platforms)
    print(f"Liaison is running on {log_line}; stop with Ctrl-C.", file=sys.stderr)
    try:
        serve(app, adapters)
    finally:
        if ops is not None:
            ops.stop()
    return 0


if __name__ == "__main__":
    sys.exit(entry())
