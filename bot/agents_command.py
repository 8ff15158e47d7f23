"""``carebot agents``: create agents, list them, issue API tokens, disable, change passwords.

The command line is the only way to create the first agent (and admin), so it works on a fresh
database (migrations are applied first) and never echoes or logs a password. A token is printed
once: only its hash is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TextIO, TypeVar

from bot.settings import Behaviour, Settings
from bot.storage.database import Database, upgrade
from handoff.agent_store import SqlAgentStore
from handoff.desk_errors import DeskError
from handoff.principal import AgentRecord

T = TypeVar("T")
MIN_PASSWORD = 8


class AgentsCommandError(Exception):
    """A problem the user can fix (unknown agent, taken name, bad language): one line, exit 2."""


def run_agents_command(
    args: argparse.Namespace,
    settings: Settings,
    behaviour: Behaviour,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    ask: Callable[[str], str] = getpass.getpass,
) -> int:
    """Run ``carebot agents ACTION``; raises :class:`AgentsCommandError` for user mistakes."""
    out = stdout or sys.stdout
    source = stdin or sys.stdin
    action = args.agents_command

    def password() -> str:
        return _password(args, source, ask)

    async def with_store(work: Callable[[SqlAgentStore], Awaitable[T]]) -> T:
        await upgrade(settings.database_url)
        database = Database.connect(settings.database_url)
        try:
            return await work(SqlAgentStore(database))
        except DeskError as exc:
            raise AgentsCommandError(exc.message) from None
        finally:
            await database.dispose()

    if action == "add":
        languages = _languages(args.languages, behaviour)
        secret = password()
        agent = asyncio.run(
            with_store(
                lambda store: store.add_agent(
                    args.username,
                    secret,
                    display_name=args.name,
                    languages=languages,
                    is_admin=args.admin,
                )
            )
        )
        print(f"agent {agent.username} added ({_describe(agent)})", file=out)
    elif action == "list":
        views = asyncio.run(with_store(lambda store: store.agents(include_disabled=True)))
        disabled = asyncio.run(with_store(_disabled_usernames))
        rows = [("USERNAME", "NAME", "LANGUAGES", "ROLE", "STATUS", "OPEN")]
        for view in views:
            status = "disabled" if view.username in disabled else view.status
            role = "admin" if view.is_admin else "agent"
            languages = ",".join(view.languages) or "-"
            rows.append(
                (
                    view.username,
                    view.display_name,
                    languages,
                    role,
                    status,
                    str(view.open_conversations),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            print(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(),
                file=out,
            )
    elif action == "token":
        print(asyncio.run(with_store(lambda store: _token(store, args.username))), file=out)
    elif action == "disable":
        agent = asyncio.run(with_store(lambda store: store.disable(args.username)))
        print(f"agent {agent.username} disabled; its tokens and sessions no longer work", file=out)
    elif action == "passwd":
        secret = password()
        agent = asyncio.run(with_store(lambda store: store.set_password(args.username, secret)))
        print(f"password of {agent.username} changed; its console sessions were ended", file=out)
    else:  # pragma: no cover - argparse only lets the actions above through
        raise AgentsCommandError(f"unknown action {action!r}")
    return 0


async def _token(store: SqlAgentStore, username: str) -> str:
    agent = await store.agent_by_username(username)
    if agent is None:
        raise AgentsCommandError(f"no agent named {username!r}")
    if agent.disabled:
        raise AgentsCommandError(f"agent {agent.username} is disabled")
    return (await store.issue_token(agent)).token


async def _disabled_usernames(store: SqlAgentStore) -> set[str]:
    everyone = await store.agents(include_disabled=True)
    enabled = {view.username for view in await store.agents()}
    return {view.username for view in everyone} - enabled


def _languages(raw: str | None, behaviour: Behaviour) -> Sequence[str]:
    if raw is None:
        return list(behaviour.languages)
    languages = [part.strip().lower() for part in raw.split(",") if part.strip()]
    unknown = [lang for lang in languages if lang not in behaviour.languages]
    if unknown or not languages:
        raise AgentsCommandError(
            f"--languages: {', '.join(unknown) or 'none given'} is not among the configured "
            f"languages ({', '.join(behaviour.languages)})"
        )
    return languages


def _password(args: argparse.Namespace, stdin: TextIO, ask: Callable[[str], str]) -> str:
    if args.password_stdin:
        secret = stdin.readline().rstrip("\r\n")
    elif not stdin.isatty():
        raise AgentsCommandError("no terminal to ask for the password; use --password-stdin")
    else:
        secret = ask("Password: ")
        if ask("Password again: ") != secret:
            raise AgentsCommandError("the passwords do not match")
    if len(secret) < MIN_PASSWORD:
        raise AgentsCommandError(f"the password must have at least {MIN_PASSWORD} characters")
    return secret


def _describe(agent: AgentRecord) -> str:
    role = "admin" if agent.is_admin else "agent"
    return f"{agent.display_name}, {role}, speaks {','.join(agent.languages) or 'nothing'}"
