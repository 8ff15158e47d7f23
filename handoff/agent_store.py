"""Agents, their tokens and sessions, and canned replies, in the SQL database.

Writes are synchronous functions over a ``Connection`` run by :meth:`Database.run_write` (one trip,
one transaction, as the conversation store does); reads use the reader pool. Password hashing
happens before a transaction starts, never inside one: a 50 ms hash must not hold SQLite's writer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.messages import ConversationState
from bot.storage.database import Database
from bot.storage.models import Agent, AuthToken, CannedReply, Conversation
from handoff.credentials import (
    dummy_password_hash,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from handoff.desk_errors import Duplicate, InvalidRequest, NotFound
from handoff.principal import AGENT_STATUSES, AgentRecord
from handoff.views import AgentView, CannedReplyView

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
SHORTCUT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: A console session ends after this long without a request.
SESSION_IDLE = timedelta(hours=12)
#: ``last_used_at`` is written at most this often per token, not on every request.
TOUCH_EVERY = timedelta(minutes=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just made: the secret is shown once and never stored."""

    id: int
    token: str
    csrf_token: str | None
    agent: AgentRecord


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """What a presented token resolves to."""

    token_id: int
    kind: str
    agent: AgentRecord
    csrf_token: str | None


def normalise_username(username: str) -> str:
    """Lower-case, validated: ``a-z 0-9 . _ -``, 1-64 characters, starting with a letter/digit."""
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise InvalidRequest(
            f"username {username!r}: use 1-64 of a-z 0-9 . _ - starting with a letter or digit"
        )
    return name


def _record(row: Any) -> AgentRecord:
    return AgentRecord(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        languages=tuple(row.languages or ()),
        is_admin=bool(row.is_admin),
        status=row.status,
        disabled=row.disabled_at is not None,
    )


def _canned(row: Any) -> CannedReplyView:
    return CannedReplyView(
        id=row.id,
        shortcut=row.shortcut,
        title=row.title,
        language=row.language,
        text=row.text,
        created_by=row.created_by,
        updated_at=row.updated_at,
    )


_AGENT_COLUMNS = (
    Agent.id,
    Agent.username,
    Agent.display_name,
    Agent.languages,
    Agent.is_admin,
    Agent.status,
    Agent.disabled_at,
)


def open_conversation_counts(connection: Connection, agent_ids: Sequence[int]) -> dict[int, int]:
    """How many conversations each agent owns right now."""
    if not agent_ids:
        return {}
    rows = connection.execute(
        select(Conversation.agent_id, func.count())
        .where(
            Conversation.agent_id.in_(agent_ids),
            Conversation.state == ConversationState.AGENT.value,
        )
        .group_by(Conversation.agent_id)
    )
    return {agent_id: count for agent_id, count in rows if agent_id is not None}


def agent_view(record: AgentRecord, open_conversations: int = 0) -> AgentView:
    return AgentView(
        id=record.id,
        username=record.username,
        display_name=record.display_name,
        languages=record.languages,
        is_admin=record.is_admin,
        status=record.status,
        open_conversations=open_conversations,
    )


class SqlAgentStore:
    """Agents, tokens and canned replies (see the module docstring)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ------------------------------------------------------------------------------ agents

    async def add_agent(
        self,
        username: str,
        password: str,
        *,
        display_name: str | None = None,
        languages: Sequence[str] = (),
        is_admin: bool = False,
    ) -> AgentRecord:
        """Create an agent (status ``away``). Raises :class:`Duplicate` for a taken username."""
        name = normalise_username(username)
        password_hash = await hash_password(password)
        now = utcnow()
        values = {
            "username": name,
            "display_name": (display_name or name).strip()[:128] or name,
            "password_hash": password_hash,
            "languages": list(dict.fromkeys(languages)),
            "is_admin": is_admin,
            "status": "away",
            "created_at": now,
            "updated_at": now,
        }

        def add(connection: Connection) -> AgentRecord:
            agent_id = connection.scalar(insert(Agent).returning(Agent.id), values)
            row = connection.execute(select(*_AGENT_COLUMNS).where(Agent.id == agent_id)).one()
            return _record(row)

        try:
            return await self._db.run_write(add)
        except IntegrityError:
            raise Duplicate(f"an agent named {name!r} already exists") from None

    async def agent(self, agent_id: int) -> AgentRecord | None:
        async with self._db.read() as session:
            row = (
                await session.execute(select(*_AGENT_COLUMNS).where(Agent.id == agent_id))
            ).first()
        return None if row is None else _record(row)

    async def agent_by_username(self, username: str) -> AgentRecord | None:
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(*_AGENT_COLUMNS).where(Agent.username == username.strip().lower())
                )
            ).first()
        return None if row is None else _record(row)

    async def agents(self, *, include_disabled: bool = False) -> list[AgentView]:
        """Every agent with the number of conversations it owns, by username."""

        def load(connection: Connection) -> list[AgentView]:
            query = select(*_AGENT_COLUMNS).order_by(Agent.username)
            if not include_disabled:
                query = query.where(Agent.disabled_at.is_(None))
            records = [_record(row) for row in connection.execute(query)]
            counts = open_conversation_counts(connection, [r.id for r in records])
            return [agent_view(r, counts.get(r.id, 0)) for r in records]

        async with self._db.read() as session:
            return await session.run_sync(lambda s: load(s.connection()))

    async def agent_view(self, agent_id: int) -> AgentView | None:
        def load(connection: Connection) -> AgentView | None:
            row = connection.execute(select(*_AGENT_COLUMNS).where(Agent.id == agent_id)).first()
            if row is None:
                return None
            return agent_view(
                _record(row), open_conversation_counts(connection, [agent_id]).get(agent_id, 0)
            )

        async with self._db.read() as session:
            return await session.run_sync(lambda s: load(s.connection()))

    async def set_password(self, username: str, password: str) -> AgentRecord:
        """Change a password and end the agent's console sessions (API tokens stay)."""
        password_hash = await hash_password(password)
        now = utcnow()

        def change(connection: Connection) -> AgentRecord:
            row = connection.execute(
                update(Agent)
                .where(Agent.username == username.strip().lower())
                .values(password_hash=password_hash, updated_at=now)
                .returning(*_AGENT_COLUMNS)
            ).first()
            if row is None:
                raise NotFound(f"no agent named {username!r}")
            connection.execute(
                update(AuthToken)
                .where(
                    AuthToken.agent_id == row.id,
                    AuthToken.kind == "session",
                    AuthToken.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            return _record(row)

        return await self._db.run_write(change)

    async def disable(self, username: str) -> AgentRecord:
        """Disable an agent: its tokens and sessions stop working, it becomes ``away``."""
        now = utcnow()

        def disable(connection: Connection) -> AgentRecord:
            row = connection.execute(
                update(Agent)
                .where(Agent.username == username.strip().lower())
                .values(disabled_at=func.coalesce(Agent.disabled_at, now), status="away")
                .values(updated_at=now)
                .returning(*_AGENT_COLUMNS)
            ).first()
            if row is None:
                raise NotFound(f"no agent named {username!r}")
            connection.execute(
                update(AuthToken)
                .where(AuthToken.agent_id == row.id, AuthToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return _record(row)

        return await self._db.run_write(disable)

    async def set_status(self, agent_id: int, status: str) -> AgentRecord:
        if status not in AGENT_STATUSES:
            raise InvalidRequest(f"status: expected one of {', '.join(AGENT_STATUSES)}")
        now = utcnow()

        def change(connection: Connection) -> AgentRecord:
            row = connection.execute(
                update(Agent)
                .where(Agent.id == agent_id)
                .values(status=status, updated_at=now)
                .returning(*_AGENT_COLUMNS)
            ).first()
            if row is None:
                raise NotFound(f"no agent {agent_id}")
            return _record(row)

        return await self._db.run_write(change)

    async def check_password(self, username: str, password: str) -> AgentRecord | None:
        """The enabled agent with these credentials, or None; as slow for unknown usernames."""
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(*_AGENT_COLUMNS, Agent.password_hash).where(
                        Agent.username == username.strip().lower()
                    )
                )
            ).first()
        stored = row.password_hash if row is not None else dummy_password_hash()
        matches = await verify_password(password, stored)
        if row is None or not matches or row.disabled_at is not None:
            return None
        return _record(row)

    # ------------------------------------------------------------------------------ tokens

    async def issue_token(self, agent: AgentRecord, *, kind: str = "api") -> IssuedToken:
        """A new API token (no expiry) or console session (expires after 12 h idle, has CSRF)."""
        token = new_token()
        csrf = new_token() if kind == "session" else None
        now = utcnow()
        values = {
            "token_hash": token_hash(token),
            "agent_id": agent.id,
            "kind": kind,
            "csrf_token": csrf,
            "created_at": now,
            "last_used_at": now,
            "expires_at": now + SESSION_IDLE if kind == "session" else None,
        }
        token_id = await self._db.run_write(
            lambda connection: connection.scalar(insert(AuthToken).returning(AuthToken.id), values)
        )
        assert token_id is not None
        return IssuedToken(token_id, token, csrf, agent)

    async def resolve_token(self, token: str) -> TokenOwner | None:
        """The live token's owner, or None (unknown, revoked, expired, agent disabled).

        A session's idle expiry moves forward as it is used; the write happens at most once a
        minute per token, so polling clients do not turn every read into a write.
        """
        now = utcnow()
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(
                        AuthToken.id.label("token_id"),
                        AuthToken.kind,
                        AuthToken.csrf_token,
                        AuthToken.last_used_at,
                        AuthToken.expires_at,
                        *_AGENT_COLUMNS,
                    )
                    .join(Agent, Agent.id == AuthToken.agent_id)
                    .where(
                        AuthToken.token_hash == token_hash(token),
                        AuthToken.revoked_at.is_(None),
                    )
                )
            ).first()
        if row is None or row.disabled_at is not None:
            return None
        if row.expires_at is not None and row.expires_at <= now:
            return None
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            values: dict[str, Any] = {"last_used_at": now}
            if row.kind == "session":
                values["expires_at"] = now + SESSION_IDLE
            await self._db.run_write(
                lambda connection: connection.execute(
                    update(AuthToken).where(AuthToken.id == row.token_id).values(**values)
                )
            )
        return TokenOwner(row.token_id, row.kind, _record(row), row.csrf_token)

    async def revoke_token(self, token_id: int) -> None:
        now = utcnow()
        await self._db.run_write(
            lambda connection: connection.execute(
                update(AuthToken)
                .where(AuthToken.id == token_id, AuthToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        )

    # ------------------------------------------------------------------------------ canned replies

    async def canned_replies(self, language: str | None = None) -> list[CannedReplyView]:
        """All canned replies by shortcut; with ``language``, those in it or in no language."""
        query = select(CannedReply).order_by(CannedReply.shortcut)
        if language:
            query = query.where((CannedReply.language == language) | CannedReply.language.is_(None))
        async with self._db.read() as session:
            return [_canned(row) for row in await session.scalars(query)]

    async def canned_reply(self, reply_id: int) -> CannedReplyView:
        async with self._db.read() as session:
            row = await session.get(CannedReply, reply_id)
        if row is None:
            raise NotFound(f"no canned reply {reply_id}")
        return _canned(row)

    async def add_canned_reply(
        self, *, shortcut: str, title: str, text: str, language: str | None, created_by: int | None
    ) -> CannedReplyView:
        _check_shortcut(shortcut)
        now = utcnow()
        values = {
            "shortcut": shortcut,
            "title": title,
            "text": text,
            "language": language,
            "created_by": created_by,
            "created_at": now,
            "updated_at": now,
        }

        def add(connection: Connection) -> CannedReplyView:
            row = connection.execute(
                insert(CannedReply).returning(*CannedReply.__table__.columns), values
            ).one()
            return _canned(row)

        try:
            return await self._db.run_write(add)
        except IntegrityError:
            raise Duplicate(f"a canned reply with shortcut {shortcut!r} already exists") from None

    async def update_canned_reply(self, reply_id: int, **changes: Any) -> CannedReplyView:
        """Change some of ``shortcut``, ``title``, ``text``, ``language``."""
        if "shortcut" in changes:
            _check_shortcut(changes["shortcut"])
        values = {**changes, "updated_at": utcnow()}

        def change(connection: Connection) -> CannedReplyView:
            row = connection.execute(
                update(CannedReply)
                .where(CannedReply.id == reply_id)
                .values(**values)
                .returning(*CannedReply.__table__.columns)
            ).first()
            if row is None:
                raise NotFound(f"no canned reply {reply_id}")
            return _canned(row)

        try:
            return await self._db.run_write(change)
        except IntegrityError:
            raise Duplicate(
                f"a canned reply with shortcut {changes.get('shortcut')!r} already exists"
            ) from None

    async def delete_canned_reply(self, reply_id: int) -> None:
        def remove(connection: Connection) -> None:
            if connection.execute(delete(CannedReply).where(CannedReply.id == reply_id)).rowcount:
                return
            raise NotFound(f"no canned reply {reply_id}")

        await self._db.run_write(remove)


def _check_shortcut(shortcut: str) -> None:
    if not SHORTCUT.fullmatch(shortcut):
        raise InvalidRequest("shortcut: 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit")
