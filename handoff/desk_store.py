"""The desk's transactions on conversations: claim, agent messages, transfer, release, resolve.

Each is one write transaction whose first statement is a conditional UPDATE of the conversation row
(``WHERE state = ... AND agent_id ...``). That single statement is both the authorisation check
and the lock: on PostgreSQL concurrent updates of the row queue and re-check the condition, on
SQLite writers are serialised, so among any number of concurrent claims exactly one matches. When it
matches nothing, the row is read to say why (missing, someone else's, wrong state).

The inbox worker applies its outcomes only onto the conversation state it decided on (see
:meth:`SqlConversationStore.complete`), so a claim or resolve that lands while the bot is deciding
makes the bot decide again instead of being overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

from sqlalchemy import Connection, case, func, insert, select, update

from bot.messages import Author, ConversationState, DeliveryStatus, MessageKind, Reply
from bot.storage.database import Database
from bot.storage.models import Agent, Conversation, Customer, Handoff, HandoffTransfer, Message
from handoff import conversation_views as views
from handoff.desk_errors import AlreadyClaimed, Conflict, Forbidden, NotFound
from handoff.views import AgentView, ConversationView, CustomerView, MessageView, QueueSummary

T = TypeVar("T")
AGENT = ConversationState.AGENT.value
WAITING = ConversationState.WAITING.value
BOT = ConversationState.BOT.value


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Ended:
    """A handoff ended: the conversation as committed, and the feedback request if queued."""

    conversation: ConversationView
    previous_state: str
    previous_agent_id: int | None
    feedback_request: MessageView | None


@dataclass(frozen=True, slots=True)
class Transferred:
    conversation: ConversationView
    previous_agent_id: int | None


class SqlDeskStore:
    """Reads and transactions of the agent desk (see the module docstring)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def _read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` over a connection of the reader pool."""
        async with self._db.read() as session:
            return await session.run_sync(lambda s: fn(s.connection()))

    # ------------------------------------------------------------------------------ reads

    async def queue(self, languages: Sequence[str], *, limit: int = 200) -> list[ConversationView]:
        """Waiting conversations: those in ``languages`` first, then longest wait first."""
        first = case((Conversation.language.in_(list(languages) or [""]), 0), else_=1)
        since = views.waiting_since()
        return await self._read(
            lambda c: views.load_conversations(
                c,
                [views.is_waiting()],
                order_by=(first, since.nulls_last(), Conversation.updated_at),
                limit=limit,
            )
        )

    async def queue_summary(self) -> QueueSummary:
        def load(connection: Connection) -> QueueSummary:
            count, oldest = connection.execute(
                select(func.count(), func.min(views.waiting_since())).where(views.is_waiting())
            ).one()
            return QueueSummary(int(count or 0), oldest)

        return await self._read(load)

    async def owner_of(self, conversation_id: int) -> int | None:
        """The agent who owns the conversation now (None: the bot, the queue, or no such one)."""
        async with self._db.read() as session:
            owner: int | None = await session.scalar(
                select(Conversation.agent_id).where(Conversation.id == conversation_id)
            )
            return owner

    async def waiting_ids(self) -> list[int]:
        async with self._db.read() as session:
            rows = await session.scalars(
                select(Conversation.id).where(views.is_waiting()).order_by(Conversation.id)
            )
            return list(rows)

    async def conversations(
        self,
        *,
        owner_id: int | None,
        states: Sequence[str],
        customer_id: int | None,
        limit: int,
    ) -> list[ConversationView]:
        where = []
        if owner_id is not None:
            where.append(Conversation.agent_id == owner_id)
        if states:
            where.append(Conversation.state.in_(list(states)))
        if customer_id is not None:
            where.append(Conversation.customer_id == customer_id)
        return await self._read(
            lambda c: views.load_conversations(
                c, where, order_by=(Conversation.updated_at.desc(),), limit=limit
            )
        )

    async def conversation(self, conversation_id: int) -> ConversationView | None:
        return await self._read(lambda c: views.conversation(c, conversation_id))

    async def messages(
        self, conversation_id: int, *, after_id: int, limit: int
    ) -> list[MessageView]:
        return await self._read(
            lambda c: views.conversation_messages(
                c, conversation_id, after_id=after_id, limit=limit
            )
        )

    async def message(self, message_id: int) -> MessageView | None:
        return await self._read(lambda c: views.message(c, message_id))

    async def customer(
        self, customer_id: int, *, limit: int = 50
    ) -> tuple[CustomerView, list[ConversationView]] | None:
        def load(connection: Connection) -> tuple[CustomerView, list[ConversationView]] | None:
            row = connection.execute(select(Customer).where(Customer.id == customer_id)).first()
            if row is None:
                return None
            conversations = views.load_conversations(
                connection,
                [Conversation.customer_id == customer_id],
                order_by=(Conversation.created_at.desc(),),
                limit=limit,
            )
            return views.customer_view(row), conversations

        return await self._read(load)

    async def available_agents(self) -> list[AgentView]:
        """Enabled agents who set themselves available, with their open conversations."""

        def load(connection: Connection) -> list[AgentView]:
            ids = set(
                connection.scalars(
                    select(Agent.id).where(Agent.status == "available", Agent.disabled_at.is_(None))
                )
            )
            found = views.agent_views(connection, ids)
            return [found[i] for i in sorted(found)]

        return await self._read(load)

    # ------------------------------------------------------------------------------ writes

    async def claim(self, conversation_id: int, agent_id: int) -> ConversationView:
        """Make ``agent_id`` the owner of a waiting conversation; exactly one claimer wins.

        Raises:
            AlreadyClaimed: another agent owns it (``details["agent"]`` names it).
            Conflict: it does not wait for an agent (handled by the bot, closed).
            NotFound: no such conversation.
        """
        return await self._db.run_write(lambda c: _claim(c, conversation_id, agent_id, utcnow()))

    async def add_agent_message(
        self,
        conversation_id: int,
        *,
        text: str,
        kind: MessageKind,
        agent_id: int | None,
        owner: int | None,
    ) -> MessageView:
        """Store an agent's reply (queued in the outbox) or private note (never sent).

        ``owner`` is the agent who must own the conversation, or None for an admin (notes only).
        """
        return await self._db.run_write(
            lambda c: _add_agent_message(c, conversation_id, text, kind, agent_id, owner, utcnow())
        )

    async def transfer(
        self,
        conversation_id: int,
        *,
        to_agent_id: int | None,
        by_agent_id: int | None,
        owner: int | None,
    ) -> Transferred:
        """Give the conversation to another agent, or back to the queue (``to_agent_id`` None)."""
        return await self._db.run_write(
            lambda c: _transfer(c, conversation_id, to_agent_id, by_agent_id, owner, utcnow())
        )

    async def end_handoff(
        self,
        conversation_id: int,
        *,
        reason: str,
        owner: int | None,
        awaiting: str | None,
        notice: Reply | None,
    ) -> Ended:
        """Hand the conversation back to the bot, ending its handoff with ``reason``.

        With ``notice`` (the feedback request), it is queued to the customer in the same
        transaction, and the conversation then awaits ``awaiting``.
        """
        return await self._db.run_write(
            lambda c: _end_handoff(c, conversation_id, reason, owner, awaiting, notice, utcnow())
        )


# ---------------------------------------------------------------------------------- transactions


_ACTIONS = {"resolved": "resolve", "released": "release"}


def _state_of(connection: Connection, conversation_id: int) -> tuple[str, int | None]:
    row = connection.execute(
        select(Conversation.state, Conversation.agent_id).where(Conversation.id == conversation_id)
    ).first()
    if row is None:
        raise NotFound(f"no conversation {conversation_id}")
    return row.state, row.agent_id


def _refuse(
    connection: Connection, conversation_id: int, owner: int | None, action: str
) -> NoReturn:
    """Raise the error that says why a conditional update matched nothing."""
    state, agent_id = _state_of(connection, conversation_id)
    if state == AGENT and owner is not None and agent_id != owner:
        raise Forbidden(f"conversation {conversation_id} belongs to another agent")
    raise Conflict(f"cannot {action} conversation {conversation_id}: it is {state}")


def _owner_view(connection: Connection, agent_id: int) -> dict[str, Any]:
    found = views.agent_views(connection, {agent_id}).get(agent_id)
    if found is None:
        return {"id": agent_id, "display_name": None}
    return {"id": found.id, "display_name": found.display_name}


def _conversation(connection: Connection, conversation_id: int) -> ConversationView:
    found = views.conversation(connection, conversation_id)
    assert found is not None
    return found


def _claim(
    connection: Connection, conversation_id: int, agent_id: int, now: datetime
) -> ConversationView:
    won = connection.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.state == WAITING,
            Conversation.agent_id.is_(None),
        )
        .values(state=AGENT, agent_id=agent_id, updated_at=now)
    ).rowcount
    if not won:
        state, owner = _state_of(connection, conversation_id)
        if state == AGENT and owner == agent_id:
            return _conversation(connection, conversation_id)  # a repeated claim: still yours
        if state == AGENT and owner is not None:
            raise AlreadyClaimed(
                f"conversation {conversation_id} was claimed by another agent",
                agent=_owner_view(connection, owner),
            )
        raise Conflict(
            f"conversation {conversation_id} is not waiting for an agent (it is {state})"
        )
    connection.execute(
        update(Handoff)
        .where(
            Handoff.conversation_id == conversation_id,
            Handoff.resolved_at.is_(None),
            Handoff.claimed_at.is_(None),
        )
        .values(agent_id=agent_id, claimed_at=now)
    )
    return _conversation(connection, conversation_id)


def _add_agent_message(
    connection: Connection,
    conversation_id: int,
    text: str,
    kind: MessageKind,
    agent_id: int | None,
    owner: int | None,
    now: datetime,
) -> MessageView:
    where = [Conversation.id == conversation_id]
    if owner is not None:
        where += [Conversation.state == AGENT, Conversation.agent_id == owner]
    row = connection.execute(
        update(Conversation)
        .where(*where)
        .values(updated_at=now)
        .returning(Conversation.customer_id, Conversation.channel, Conversation.language)
    ).first()
    if row is None:
        _refuse(connection, conversation_id, owner, "write to")
    reply = kind == MessageKind.REPLY
    message_id = connection.scalar(
        insert(Message).returning(Message.id),
        {
            "conversation_id": conversation_id,
            "customer_id": row.customer_id,
            "channel": row.channel,
            "direction": "out",
            "author": Author.AGENT.value,
            "kind": kind.value,
            "text": text,
            "created_at": now,
            "language": row.language,
            "agent_id": agent_id,
            # A note is never sent: the outbox only picks ``queued`` rows.
            "status": DeliveryStatus.QUEUED.value if reply else None,
            "attempts": 0,
        },
    )
    assert message_id is not None
    if reply:
        connection.execute(
            update(Handoff)
            .where(
                Handoff.conversation_id == conversation_id,
                Handoff.resolved_at.is_(None),
                Handoff.first_agent_message_at.is_(None),
            )
            .values(first_agent_message_at=now)
        )
    found = views.message(connection, message_id)
    assert found is not None
    return found


def _open_handoff_id(connection: Connection, conversation_id: int) -> int | None:
    return connection.scalar(
        select(func.max(Handoff.id)).where(
            Handoff.conversation_id == conversation_id, Handoff.resolved_at.is_(None)
        )
    )


def _transfer(
    connection: Connection,
    conversation_id: int,
    to_agent_id: int | None,
    by_agent_id: int | None,
    owner: int | None,
    now: datetime,
) -> Transferred:
    if to_agent_id is not None:
        target = connection.execute(
            select(Agent.id).where(Agent.id == to_agent_id, Agent.disabled_at.is_(None))
        ).first()
        if target is None:
            raise NotFound(f"no agent {to_agent_id}")
    state, previous = _state_of(connection, conversation_id)
    where = [Conversation.id == conversation_id]
    if owner is not None:
        where += [Conversation.state == AGENT, Conversation.agent_id == owner]
    else:
        # An admin moves what an agent owns or what waits; the row as read must not have moved.
        where += [Conversation.state.in_([AGENT, WAITING])]
        where.append(
            Conversation.agent_id.is_(None)
            if previous is None
            else Conversation.agent_id == previous
        )
    moved = connection.execute(
        update(Conversation)
        .where(*where)
        .values(
            state=AGENT if to_agent_id is not None else WAITING,
            agent_id=to_agent_id,
            updated_at=now,
        )
    ).rowcount
    if not moved:
        _refuse(connection, conversation_id, owner, "transfer")
    handoff_id = _open_handoff_id(connection, conversation_id)
    if handoff_id is not None:
        connection.execute(
            insert(HandoffTransfer),
            {
                "handoff_id": handoff_id,
                "conversation_id": conversation_id,
                "from_agent_id": previous,
                "to_agent_id": to_agent_id,
                "by_agent_id": by_agent_id,
                "created_at": now,
            },
        )
        values: dict[str, Any] = {"agent_id": to_agent_id}
        if state == WAITING and to_agent_id is not None:
            values["claimed_at"] = now
        connection.execute(update(Handoff).where(Handoff.id == handoff_id).values(**values))
    return Transferred(_conversation(connection, conversation_id), previous)


def _end_handoff(
    connection: Connection,
    conversation_id: int,
    reason: str,
    owner: int | None,
    awaiting: str | None,
    notice: Reply | None,
    now: datetime,
) -> Ended:
    state, previous = _state_of(connection, conversation_id)
    where = [Conversation.id == conversation_id]
    if owner is not None:
        where += [Conversation.state == AGENT, Conversation.agent_id == owner]
    else:
        where += [Conversation.state == state, Conversation.state.in_([AGENT, WAITING])]
    row = connection.execute(
        update(Conversation)
        .where(*where)
        .values(state=BOT, agent_id=None, awaiting=awaiting, fallback_streak=0, updated_at=now)
        .returning(Conversation.customer_id, Conversation.channel, Conversation.language)
    ).first()
    if row is None:
        _refuse(connection, conversation_id, owner, _ACTIONS.get(reason, reason))
    connection.execute(
        update(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.resolved_at.is_(None))
        .values(resolved_at=now, ended_reason=reason)
    )
    request = None
    if notice is not None:
        message_id = connection.scalar(
            insert(Message).returning(Message.id),
            {
                "conversation_id": conversation_id,
                "customer_id": row.customer_id,
                "channel": row.channel,
                "direction": "out",
                "author": Author.BOT.value,
                "kind": notice.kind.value,
                "text": notice.text,
                "payload": {
                    "choices": [{"title": c.title, "payload": c.payload} for c in notice.choices]
                }
                if notice.choices
                else None,
                "created_at": now,
                "language": row.language,
                "status": DeliveryStatus.QUEUED.value,
                "attempts": 0,
            },
        )
        assert message_id is not None
        request = views.message(connection, message_id)
    return Ended(_conversation(connection, conversation_id), state, previous, request)


__all__ = ["Ended", "SqlDeskStore", "Transferred"]
