"""`liaison run`, `liaison console`, `liaison db upgrade`, `liaison --version`, and the
sub-commands each domain declares (`liaison comm export`, `liaison tp import`)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from bot import __version__
from bot.config import Settings, load_settings
from bot.errors import ConfigError, StorageError

CORE_COMMANDS = ("run", "console", "db", "--version")


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

    db = sub.add_parser("db", help="database commands", description="Database commands.")
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND")
    db_sub.add_parser(
        "upgrade",
        help="apply every migration",
        description="Bring the database named by DATABASE_URL to the newest schema.",
    )

    if domains:
        import handlers

        for domain in handlers.DOMAINS:  # each domain adds its own sub-commands
            if domain.cli is not None:
                domain.cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser(domains=not argv or argv[0] not in CORE_COMMANDS)
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
