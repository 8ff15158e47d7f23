"""The ``carebot`` command line.

Every command has ``--help``; bad arguments, bad settings or a missing environment print one line to
stderr and exit with code 2, never a traceback (CONTRACT.md section 2).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from bot import __version__
from bot.faq_catalog import CatalogError
from bot.settings import Behaviour, ConfigError, Settings, load_behaviour, load_settings

log = logging.getLogger(__name__)

EXIT_USAGE = 2


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (``carebot: error: ...``) and exit with code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="carebot",
        description="Customer-care assistant: FAQ answers from Rasa, human handoff, reports.",
    )
    parser.add_argument("--version", action="version", version=f"carebot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    serve = commands.add_parser("serve", help="run the gateway (web chat, webhooks, API)")
    serve.add_argument("--host", help="listen address (default: CAREBOT_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default: CAREBOT_PORT)")
    serve.add_argument(
        "--with-rasa",
        action="store_true",
        help="also train (if needed) and start the Rasa server, and stop it on exit (make run)",
    )

    shell = commands.add_parser("shell", help="talk to the bot in this terminal")
    shell.add_argument("--user", default=None, help="who you are to the bot (default: your login)")
    shell.add_argument("--language", default=None, help="a language hint such as it or en")

    nlu = commands.add_parser("nlu", help="train or serve the Rasa NLU model")
    nlu_commands = nlu.add_subparsers(dest="nlu_command", metavar="ACTION", parser_class=_Parser)
    nlu_commands.required = True
    train = nlu_commands.add_parser("train", help="train the model if its training data changed")
    train.add_argument("--force", action="store_true", help="train even if a model is up to date")
    nlu_serve = nlu_commands.add_parser("serve", help="start the Rasa server with its HTTP API")
    nlu_serve.add_argument(
        "--port", type=int, default=None, help="port (default: from CAREBOT_RASA_URL)"
    )
    export = nlu_commands.add_parser(
        "export-review", help="write review-queue questions as Rasa nlu.yml examples"
    )
    export.add_argument(
        "--status",
        default="added",
        choices=["added", "open", "dismissed"],
        help="which items (default: added, those an admin marked for an FAQ)",
    )
    export.add_argument("--output", default=None, help="file to write (default: standard output)")

    telegram = commands.add_parser("telegram", help="Telegram set-up")
    telegram_commands = telegram.add_subparsers(
        dest="telegram_command", metavar="ACTION", parser_class=_Parser
    )
    telegram_commands.required = True
    telegram_commands.add_parser(
        "set-webhook",
        help="register CAREBOT_PUBLIC_URL/webhooks/telegram with Telegram, with the secret token",
    )

    agents = commands.add_parser("agents", help="manage support agents (console and API users)")
    agents_commands = agents.add_subparsers(
        dest="agents_command", metavar="ACTION", parser_class=_Parser
    )
    agents_commands.required = True
    add = agents_commands.add_parser("add", help="create an agent (asks for a password)")
    add.add_argument("username", help="login name: a-z 0-9 . _ -")
    add.add_argument("--name", help="display name shown to customers (default: the username)")
    add.add_argument(
        "--languages", default=None, help="languages the agent speaks, e.g. it,en (default: all)"
    )
    add.add_argument("--admin", action="store_true", help="may act on every conversation")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    agents_commands.add_parser("list", help="list agents")
    for action, text in (
        ("token", "print a new API token for an agent (shown once)"),
        ("disable", "disable an agent and revoke its tokens and sessions"),
        ("passwd", "change an agent's password (ends its console sessions)"),
    ):
        sub = agents_commands.add_parser(action, help=text)
        sub.add_argument("username")
        if action == "passwd":
            sub.add_argument(
                "--password-stdin", action="store_true", help="read the password from stdin"
            )

    report = commands.add_parser(
        "report",
        help="support figures of a period: turns, response times, handoffs, CSAT",
        description="WHEN: an ISO-8601 date or date-time (UTC unless it says otherwise), a span "
        "back from now such as 30m, 24h, 7d, or now. Default: the last 7 days.",
    )
    report.add_argument("--since", metavar="WHEN", help="start of the period (default: 7d)")
    report.add_argument("--until", metavar="WHEN", help="end of the period (default: now)")
    report.add_argument("--channel", choices=("telegram", "whatsapp", "web"))
    report.add_argument("--language", help="only conversations in this language, e.g. it")
    report.add_argument("--agent", type=int, metavar="ID", help="only this agent's conversations")
    report.add_argument("--faq", metavar="KEY", help="only conversations that asked this FAQ")
    report.add_argument("--format", choices=("table", "json", "csv"), default="table")
    report.add_argument(
        "--business-hours",
        action="store_true",
        help="count agent response times and handoff waits within business hours only",
    )

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=_Parser)
    db_commands.required = True
    db_commands.add_parser("upgrade", help="apply database migrations")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        from bot.logging_setup import configure_logging

        level = settings.log_level
        if args.command == "shell" and "log_level" not in settings.model_fields_set:
            level = "WARNING"  # the terminal is the chat: keep routine log lines out of it
        configure_logging(level, settings.log_format)
        handler = _HANDLERS[_command_key(args)]
        return handler(args, settings)
    except (UsageError, ConfigError, CatalogError) as exc:
        print(f"carebot: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from bot.nlu_commands import NluCommandError

        if isinstance(exc, NluCommandError):
            print(f"carebot: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        # Never a traceback at a user: one line, and the details in the debug log.
        log.debug("command failed", exc_info=True)
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"carebot: error: {detail}", file=sys.stderr)
        return 1


def _command_key(args: argparse.Namespace) -> str:
    sub = getattr(args, f"{args.command}_command", None)
    return f"{args.command} {sub}" if sub else args.command


def _behaviour(settings: Settings) -> Behaviour:
    return load_behaviour(settings.config)


# ------------------------------------------------------------------------------------ commands


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.serve_command import serve

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    return serve(settings, _behaviour(settings), with_rasa=args.with_rasa)


def _shell(args: argparse.Namespace, settings: Settings) -> int:
    from bot.pipeline import running_pipeline
    from channels.shell import ShellOutput, run_shell

    behaviour = _behaviour(settings)
    user = args.user or getpass.getuser()
    interactive = sys.stdin.isatty()

    async def session() -> None:
        output = ShellOutput()
        async with running_pipeline(settings, behaviour, {output.channel: output}) as pipeline:
            if interactive:
                print("carebot shell: type a message, /exit to leave.", flush=True)
                if not await pipeline.nlu.ready():
                    print(f"warning: Rasa does not answer at {settings.rasa_url}", file=sys.stderr)
            await run_shell(
                pipeline.inbox, user, pipeline.idle, language=args.language, prompt=interactive
            )

    asyncio.run(session())
    return 0


def _nlu_train(args: argparse.Namespace, settings: Settings) -> int:
    from bot.nlu_commands import train

    return train(settings, force=args.force)


def _nlu_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.nlu_commands import serve_rasa

    return serve_rasa(settings, port=args.port)


def _agents(args: argparse.Namespace, settings: Settings) -> int:
    from bot.agents_command import AgentsCommandError, run_agents_command

    try:
        return run_agents_command(args, settings, _behaviour(settings))
    except AgentsCommandError as exc:
        raise UsageError(str(exc)) from None


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.report_command import ReportCommandError, run_report_command

    try:
        return run_report_command(args, settings, _behaviour(settings))
    except ReportCommandError as exc:
        raise UsageError(str(exc)) from None


def _nlu_export_review(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from bot.storage.database import Database
    from bot.storage.review_queue import SqlReviewQueue
    from nlu.review_export import review_nlu_yaml

    async def items() -> list[Any]:
        database = Database.connect(settings.database_url)
        try:
            return await SqlReviewQueue(database).items(status=args.status, limit=100_000)
        finally:
            await database.dispose()

    found = asyncio.run(items())
    text = review_nlu_yaml(reversed(found))  # oldest first
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{len(found)} questions written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from bot.storage.database import upgrade_sync

    upgrade_sync(settings.database_url)
    print("database is up to date")
    return 0


def _telegram_set_webhook(args: argparse.Namespace, settings: Settings) -> int:
    from channels.telegram.webhook_setup import set_webhook

    if settings.telegram_token is None:
        raise UsageError("CAREBOT_TELEGRAM_TOKEN is not set")
    if settings.telegram_webhook_secret is None:
        raise UsageError("CAREBOT_TELEGRAM_WEBHOOK_SECRET is not set")
    settings.check_channels()
    if not settings.public_url.startswith("https://"):
        print(
            "warning: Telegram only calls https:// webhooks; CAREBOT_PUBLIC_URL is not https",
            file=sys.stderr,
        )
    url = asyncio.run(
        set_webhook(
            settings.telegram_token.get_secret_value(),
            settings.telegram_api_url,
            settings.public_url,
            settings.telegram_webhook_secret.get_secret_value(),
        )
    )
    print(f"webhook set: {url}")
    return 0


_HANDLERS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "serve": _serve,
    "shell": _shell,
    "nlu train": _nlu_train,
    "nlu serve": _nlu_serve,
    "nlu export-review": _nlu_export_review,
    "db upgrade": _db_upgrade,
    "report": _report,
    "agents add": _agents,
    "agents list": _agents,
    "agents token": _agents,
    "agents disable": _agents,
    "agents passwd": _agents,
    "telegram set-webhook": _telegram_set_webhook,
}


if __name__ == "__main__":
    raise SystemExit(main())
