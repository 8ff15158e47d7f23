"""Agents, tokens, sessions and canned replies in SQL, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.storage.database import Database
from bot.storage.models import Agent, AuthToken
from handoff.agent_store import SqlAgentStore
from handoff.credentials import token_hash
from handoff.desk_errors import Duplicate, InvalidRequest, NotFound

pytestmark = pytest.mark.timeout(60)
PASSWORD = "correct horse battery"


@pytest.fixture
def store(database: Database) -> SqlAgentStore:
    return SqlAgentStore(database)


async def test_agents_are_created_once_per_username(store: SqlAgentStore) -> None:
    agent = await store.add_agent("Giulia", PASSWORD, display_name="Giulia R.", languages=["it"])
    assert (agent.username, agent.display_name, agent.languages) == ("giulia", "Giulia R.", ("it",))
    assert agent.status == "away" and not agent.is_admin
    with pytest.raises(Duplicate):
        await store.add_agent("GIULIA", PASSWORD)
    with pytest.raises(InvalidRequest):
        await store.add_agent("no spaces", PASSWORD)
    assert [a.username for a in await store.agents()] == ["giulia"]


async def test_the_password_hash_is_stored_never_the_password(
    store: SqlAgentStore, database: Database
) -> None:
    await store.add_agent("giulia", PASSWORD)
    async with database.read() as session:
        stored = await session.scalar(select(Agent.password_hash))
    assert stored is not None and PASSWORD not in stored
    assert await store.check_password("giulia", PASSWORD) is not None
    assert await store.check_password("giulia", "wrong") is None
    assert await store.check_password("nobody", PASSWORD) is None


async def test_tokens_are_stored_hashed_and_revocable(
    store: SqlAgentStore, database: Database
) -> None:
    agent = await store.add_agent("giulia", PASSWORD)
    issued = await store.issue_token(agent)
    async with database.read() as session:
        row = await session.scalar(select(AuthToken))
    assert row is not None and row.token_hash == token_hash(issued.token)
    assert row.kind == "api" and row.expires_at is None and row.csrf_token is None
    owner = await store.resolve_token(issued.token)
    assert owner is not None and owner.agent.id == agent.id and owner.kind == "api"
    assert await store.resolve_token("not-a-token") is None
    await store.revoke_token(issued.id)
    assert await store.resolve_token(issued.token) is None


async def test_sessions_expire_when_idle_and_move_forward_when_used(
    store: SqlAgentStore, database: Database
) -> None:
    agent = await store.add_agent("giulia", PASSWORD)
    session_token = await store.issue_token(agent, kind="session")
    assert session_token.csrf_token
    owner = await store.resolve_token(session_token.token)
    assert owner is not None and owner.csrf_token == session_token.csrf_token

    long_ago = datetime.now(UTC) - timedelta(hours=1)
    async with database.write() as session:
        await session.execute(
            update(AuthToken).values(
                last_used_at=long_ago, expires_at=long_ago + timedelta(hours=2)
            )
        )
    assert await store.resolve_token(session_token.token) is not None  # used: moved forward
    async with database.read() as session:
        expires = await session.scalar(select(AuthToken.expires_at))
    assert expires is not None and expires > datetime.now(UTC) + timedelta(hours=11)

    async with database.write() as session:
        await session.execute(update(AuthToken).values(expires_at=long_ago))
    assert await store.resolve_token(session_token.token) is None


async def test_disabling_an_agent_ends_its_tokens_and_new_passwords_end_sessions(
    store: SqlAgentStore,
) -> None:
    agent = await store.add_agent("giulia", PASSWORD)
    api = await store.issue_token(agent)
    session = await store.issue_token(agent, kind="session")
    await store.set_password("giulia", "a new password")
    assert await store.resolve_token(session.token) is None
    assert await store.resolve_token(api.token) is not None
    assert await store.check_password("giulia", "a new password") is not None

    disabled = await store.disable("giulia")
    assert disabled.disabled
    assert await store.resolve_token(api.token) is None
    assert await store.check_password("giulia", "a new password") is None
    assert await store.agents() == []
    with pytest.raises(NotFound):
        await store.disable("nobody")


async def test_canned_replies(store: SqlAgentStore) -> None:
    italian = await store.add_canned_reply(
        shortcut="ciao", title="Saluto", text="Ciao {name}!", language="it", created_by=None
    )
    await store.add_canned_reply(
        shortcut="hello", title="Greeting", text="Hello {name}!", language="en", created_by=None
    )
    anywhere = await store.add_canned_reply(
        shortcut="link", title="Link", text="https://aurora.example", language=None, created_by=None
    )
    assert [c.id for c in await store.canned_replies("it")] == [italian.id, anywhere.id]
    assert len(await store.canned_replies()) == 3
    with pytest.raises(Duplicate):
        await store.add_canned_reply(
            shortcut="ciao", title="x", text="x", language=None, created_by=None
        )
    with pytest.raises(Duplicate):
        await store.update_canned_reply(anywhere.id, shortcut="ciao")
    with pytest.raises(InvalidRequest):
        await store.update_canned_reply(anywhere.id, shortcut="no spaces")
    await store.delete_canned_reply(italian.id)
    with pytest.raises(NotFound):
        await store.delete_canned_reply(italian.id)
    with pytest.raises(NotFound):
        await store.canned_reply(italian.id)
