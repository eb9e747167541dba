"""`liaison run`, `liaison console`, `liaison db upgrade`, `liaison --version`."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from bot import __version__
from bot.config import Settings, load_settings
from bot.errors import ConfigError, StorageError


def _parser() -> argparse.ArgumentParser:
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

    db = sub.add_parser("db", help="database commands", description="Database commands.")
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND")
    db_sub.add_parser(
        "upgrade",
        help="apply every migration",
        description="Bring the database named by DATABASE_URL to the newest schema.",
    )

    comm = sub.add_parser(
        "comm", help="communication records (/comm)", description="Communication records."
    )
    comm_sub = comm.add_subparsers(dest="comm_command", metavar="COMM_COMMAND")
    comm_export = comm_sub.add_parser(
        "export",
        help="write every communication record as CSV",
        description="Write every communication record as CSV (UTF-8 with a BOM, so spreadsheet "
        "programs show Chinese correctly), to FILE or standard output.",
    )
    comm_export.add_argument("--out", metavar="FILE", default=None, help="the file to write")
    comm_export.add_argument(
        "--locale", choices=("zh", "en"), default=None,
        help="language of headers and values (default: the setting)",
    )
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
    tp_export = tp_sub.add_parser(
        "export",
        help="write the approved talking points as CSV or YAML",
        description="Write every approved talking point (in date or lapsed) to FILE or "
        "standard output; CSV is UTF-8 with a BOM. The file can be imported again.",
    )
    tp_export.add_argument("--format", choices=("csv", "yaml"), default="csv")
    tp_export.add_argument("--out", metavar="FILE", default=None, help="the file to write")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        settings = load_settings()
        if args.command == "db":
            if args.db_command != "upgrade":
                parser.parse_args(["db", "--help"])
            from bot.db import upgrade

            upgrade(settings.database_url)
            from bot.core import safe_url

            print(f"database is up to date: {safe_url(settings.database_url)}")
            return 0
        if args.command == "console":
            return _console(settings, args.user, args.locale)
        if args.command == "comm":
            if args.comm_command != "export":
                parser.parse_args(["comm", "--help"])
            from handlers.comm_export import export_command

            return export_command(settings, args.out, args.locale)
        if args.command == "tp":
            if args.tp_command not in ("import", "export"):
                parser.parse_args(["tp", "--help"])
            from handlers.talking_points_io import cli as tp_cli

            return tp_cli(settings, args)
        if args.command == "run":
            return _run(settings)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"database error: {exc}", file=sys.stderr)
        return 1
    return 2


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
    log_line = ", ".join(platforms)
    print(f"Liaison is running on {log_line}; stop with Ctrl-C.", file=sys.stderr)
    serve(app, adapters)
    return 0


if __name__ == "__main__":
    sys.exit(main())
