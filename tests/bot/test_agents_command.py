"""``carebot agents``: add, list, token, disable, passwd, as a user runs them (subprocesses)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.storage.database import Database
from handoff.agent_store import SqlAgentStore
from tests.bot.test_cli import assert_one_line_error, carebot

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CAREBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'agents.db'}"}


def resolve(env: dict[str, str], token: str) -> str | None:
    async def check() -> str | None:
        database = Database.connect(env["CAREBOT_DATABASE_URL"])
        try:
            owner = await SqlAgentStore(database).resolve_token(token)
            return None if owner is None else owner.agent.username
        finally:
            await database.dispose()

    return asyncio.run(check())


def check_password(env: dict[str, str], username: str, password: str) -> bool:
    async def check() -> bool:
        database = Database.connect(env["CAREBOT_DATABASE_URL"])
        try:
            return await SqlAgentStore(database).check_password(username, password) is not None
        finally:
            await database.dispose()

    return asyncio.run(check())


@pytest.mark.parametrize("action", ["add", "list", "token", "disable", "passwd"])
def test_every_action_has_help(action: str) -> None:
    result = carebot("agents", action, "--help")
    assert result.returncode == 0 and "usage: carebot agents" in result.stdout


def test_add_list_token_disable(env: dict[str, str]) -> None:
    added = carebot(
        "agents",
        "add",
        "Giulia",
        "--name",
        "Giulia Rossi",
        "--languages",
        "it,en",
        "--admin",
        "--password-stdin",
        env=env,
        stdin="s3cret-passw0rd\n",
    )
    assert added.returncode == 0, added.stderr
    assert "s3cret" not in added.stdout + added.stderr
    assert check_password(env, "giulia", "s3cret-passw0rd")

    listed = carebot("agents", "list", env=env)
    assert listed.returncode == 0
    [header, row] = listed.stdout.splitlines()
    assert header.split()[:3] == ["USERNAME", "NAME", "LANGUAGES"]
    assert row.split() == ["giulia", "Giulia", "Rossi", "it,en", "admin", "away", "0"]

    token = carebot("agents", "token", "giulia", env=env)
    assert token.returncode == 0
    secret = token.stdout.strip()
    assert len(secret) >= 40 and resolve(env, secret) == "giulia"

    disabled = carebot("agents", "disable", "giulia", env=env)
    assert disabled.returncode == 0
    assert resolve(env, secret) is None
    assert "disabled" in carebot("agents", "list", env=env).stdout
    assert_one_line_error(carebot("agents", "token", "giulia", env=env), contains="disabled")


def test_passwd_changes_the_password(env: dict[str, str]) -> None:
    carebot("agents", "add", "marco", "--password-stdin", env=env, stdin="first-password\n")
    changed = carebot(
        "agents", "passwd", "marco", "--password-stdin", env=env, stdin="second-password\n"
    )
    assert changed.returncode == 0, changed.stderr
    assert check_password(env, "marco", "second-password")
    assert not check_password(env, "marco", "first-password")


def test_mistakes_are_one_line_errors(env: dict[str, str]) -> None:
    carebot("agents", "add", "marco", "--password-stdin", env=env, stdin="first-password\n")
    assert_one_line_error(
        carebot("agents", "add", "marco", "--password-stdin", env=env, stdin="another-one\n"),
        contains="already exists",
    )
    assert_one_line_error(
        carebot(
            "agents",
            "add",
            "anna",
            "--languages",
            "fr",
            "--password-stdin",
            env=env,
            stdin="long-enough\n",
        ),
        contains="fr is not among the configured languages",
    )
    assert_one_line_error(
        carebot("agents", "add", "anna", "--password-stdin", env=env, stdin="short\n"),
        contains="at least 8 characters",
    )
    assert_one_line_error(
        carebot("agents", "add", "bad name!", "--password-stdin", env=env, stdin="long-enough\n"),
        contains="username",
    )
    assert_one_line_error(
        carebot("agents", "add", "anna", env=env, stdin=""), contains="--password-stdin"
    )
    for action in ("token", "disable"):
        assert_one_line_error(carebot("agents", action, "nobody", env=env), contains="nobody")
    assert_one_line_error(
        carebot("agents", "passwd", "nobody", "--password-stdin", env=env, stdin="long-enough\n"),
        contains="nobody",
    )
    assert_one_line_error(carebot("agents", env=env), contains="ACTION")
