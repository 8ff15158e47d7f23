"""Loading the desk's views of conversations, messages and customers from the database.

Synchronous functions over a ``Connection``, so a write transaction (a claim, a resolve) can return
the conversation exactly as it committed it, and readers run them through ``run_sync``. A list of
conversations costs a fixed number of queries (conversations, customers, agents, handoffs, last
messages, unread counts), whatever its length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, func, select
from sqlalchemy.orm import aliased

from bot.messages import ConversationState, MessageKind
from bot.storage.models import Agent, Conversation, Customer, Handoff, Message
from handoff.agent_store import agent_view, open_conversation_counts
from handoff.principal import AgentRecord
from handoff.views import AgentView, ConversationView, CustomerView, HandoffView, MessageView

CONVERSATION = Conversation.__table__
MESSAGE_COLUMNS = tuple(Message.__table__.columns)


def customer_view(row: Any) -> CustomerView:
    return CustomerView(
        id=row.id,
        channel=row.channel,
        platform_id=row.platform_id,
        display_name=row.display_name,
        language=row.language,
        unreachable=row.unreachable_at is not None,
        created_at=row.created_at,
        last_inbound_at=row.last_inbound_at,
    )


def handoff_view(row: Any) -> HandoffView:
    return HandoffView(
        id=row.id,
        reason=row.reason,
        detail=row.detail,
        requested_at=row.requested_at,
        claimed_at=row.claimed_at,
        agent_id=row.agent_id,
        resolved_at=row.resolved_at,
        language=row.language,
        ended_reason=row.ended_reason,
        first_agent_message_at=row.first_agent_message_at,
    )


def message_view(row: Any, agent_names: dict[int, str]) -> MessageView:
    payload = row.payload or {}
    return MessageView(
        id=row.id,
        conversation_id=row.conversation_id,
        direction=row.direction,
        author=row.author,
        kind=row.kind,
        text=row.text,
        attachments=tuple(payload.get("attachments", ())),
        choices=tuple(
            {"title": c["title"], "payload": c["payload"]} for c in payload.get("choices", ())
        ),
        agent=None
        if row.agent_id is None
        else (row.agent_id, agent_names.get(row.agent_id, f"agent {row.agent_id}")),
        status=row.status,
        created_at=row.created_at,
    )


def _agents(connection: Connection, ids: set[int]) -> dict[int, AgentRecord]:
    if not ids:
        return {}
    rows = connection.execute(
        select(
            Agent.id,
            Agent.username,
            Agent.display_name,
            Agent.languages,
            Agent.is_admin,
            Agent.status,
            Agent.disabled_at,
        ).where(Agent.id.in_(ids))
    )
    return {
        row.id: AgentRecord(
            id=row.id,
            username=row.username,
            display_name=row.display_name,
            languages=tuple(row.languages or ()),
            is_admin=bool(row.is_admin),
            status=row.status,
            disabled=row.disabled_at is not None,
        )
        for row in rows
    }


def agent_views(connection: Connection, ids: set[int]) -> dict[int, AgentView]:
    records = _agents(connection, ids)
    counts = open_conversation_counts(connection, list(records))
    return {i: agent_view(r, counts.get(i, 0)) for i, r in records.items()}


def load_messages(connection: Connection, query: Select[Any]) -> list[MessageView]:
    """The messages ``query`` (a select of the message columns) finds, with agents' names."""
    rows = list(connection.execute(query))
    names = {
        i: a.display_name
        for i, a in _agents(connection, {r.agent_id for r in rows if r.agent_id}).items()
    }
    return [message_view(row, names) for row in rows]


def conversation_messages(
    connection: Connection, conversation_id: int, *, after_id: int, limit: int
) -> list[MessageView]:
    """A conversation's messages after ``after_id``, oldest first, notes included."""
    return load_messages(
        connection,
        select(*MESSAGE_COLUMNS)
        .where(Message.conversation_id == conversation_id, Message.id > after_id)
        .order_by(Message.id)
        .limit(limit),
    )


def message(connection: Connection, message_id: int) -> MessageView | None:
    found = load_messages(connection, select(*MESSAGE_COLUMNS).where(Message.id == message_id))
    return found[0] if found else None


def load_conversations(
    connection: Connection,
    where: Sequence[ColumnElement[bool]],
    *,
    order_by: Sequence[Any] = (),
    limit: int | None = None,
) -> list[ConversationView]:
    """The conversations matching ``where``, as full views, in ``order_by`` order."""
    query = select(CONVERSATION).where(*where).order_by(*order_by, Conversation.id)
    if limit is not None:
        query = query.limit(limit)
    rows = list(connection.execute(query))
    if not rows:
        return []
    ids = [row.id for row in rows]
    customers = {
        row.id: customer_view(row)
        for row in connection.execute(
            select(Customer).where(Customer.id.in_({r.customer_id for r in rows}))
        )
    }
    agents = agent_views(connection, {row.agent_id for row in rows if row.agent_id})
    latest_handoff = (
        select(func.max(Handoff.id))
        .where(Handoff.conversation_id.in_(ids))
        .group_by(Handoff.conversation_id)
    )
    handoffs = {
        row.conversation_id: handoff_view(row)
        for row in connection.execute(select(Handoff).where(Handoff.id.in_(latest_handoff)))
    }
    last_ids = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(ids), Message.kind != MessageKind.NOTE.value)
        .group_by(Message.conversation_id)
    )
    last_messages = {
        m.conversation_id: m
        for m in load_messages(connection, select(*MESSAGE_COLUMNS).where(Message.id.in_(last_ids)))
    }
    unread = _unread_counts(connection, ids)
    return [
        ConversationView(
            id=row.id,
            state=row.state,
            channel=row.channel,
            language=row.language,
            customer=customers[row.customer_id],
            agent=agents.get(row.agent_id) if row.agent_id else None,
            handoff=handoffs.get(row.id),
            created_at=row.created_at,
            updated_at=row.updated_at,
            last_message=last_messages.get(row.id),
            unread=unread.get(row.id, 0),
        )
        for row in rows
    ]


def _unread_counts(connection: Connection, ids: Sequence[int]) -> dict[int, int]:
    """Customer messages since the last message anyone sent them (bot or agent), per conversation.

    That is what still waits for an answer, which is what an agent's list needs to show.
    """
    answered = aliased(Message)
    last_out = (
        select(func.coalesce(func.max(answered.id), 0))
        .where(
            answered.conversation_id == Message.conversation_id,
            answered.direction == "out",
            answered.kind != MessageKind.NOTE.value,
        )
        .scalar_subquery()
    )
    rows = connection.execute(
        select(Message.conversation_id, func.count())
        .where(
            Message.conversation_id.in_(ids),
            and_(Message.direction == "in", Message.id > last_out),
        )
        .group_by(Message.conversation_id)
    )
    return {conversation_id: count for conversation_id, count in rows}


def conversation(connection: Connection, conversation_id: int) -> ConversationView | None:
    found = load_conversations(connection, [Conversation.id == conversation_id])
    return found[0] if found else None


def waiting_since() -> ColumnElement[Any]:
    """When the open handoff of the row's conversation was requested (correlated subquery)."""
    return (
        select(func.min(Handoff.requested_at))
        .where(Handoff.conversation_id == Conversation.id, Handoff.resolved_at.is_(None))
        .scalar_subquery()
    )


def is_waiting() -> ColumnElement[bool]:
    return and_(
        Conversation.state == ConversationState.WAITING.value, Conversation.agent_id.is_(None)
    )
