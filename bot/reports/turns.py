"""Customer turns and the replies that answer them (CONTRACT.md section 6), as one SQL query.

Only two kinds of rows matter: customer messages (``direction='in'``) and replies (``kind='reply'``
written by the bot or an agent). Notices ("an agent will answer soon", feedback requests),
broadcasts and private notes are left out before anything else, so they neither answer a turn nor
split one: a customer who writes, gets the handoff notice and writes again is still in the turn
the first agent message answers.

Over those rows, in each conversation's storage order (``id``):

1. ``LAG`` marks a turn's first message (a customer message not preceded by one) and the reply
   that ends a turn (a reply preceded by a customer message);
2. the marks alternate start, reply, start, reply...; ``LEAD`` over them pairs each start with its
   reply, and ``ROW_NUMBER`` tells the conversation's first turn.

A turn belongs to the period its first message is in. It is answered when its reply came within the
response window; unanswered when it did not and the window has passed (at ``as_of``); a turn still
inside the window without a reply is left out of both. Only conversations with a customer message
in the period are read, and nothing later than the window after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CTE, String, and_, case, exists, func, literal_column, or_, select

from bot.messages import Author, MessageKind
from bot.reports.periods import Period
from bot.reports.sql_functions import seconds_between
from bot.storage.models import Conversation, Handoff, Message
from handoff.business_hours import BusinessHours

DEFAULT_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class ReportScope:
    """What a report covers.

    Attributes:
        period: turns, handoffs, feedback and closings counted are those started in it.
        response_window: a turn not answered within it is unanswered.
        as_of: "now" for the response window (tests pin it).
        channel, language: the conversation's.
        agent_id: conversations this agent owned (a handoff of theirs), their feedback.
        faq_key: conversations in which a customer asked this FAQ, and its feedback.
        business_hours: measure agent response times and handoff waits in working time.
    """

    period: Period
    response_window: timedelta = DEFAULT_WINDOW
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))
    channel: str | None = None
    language: str | None = None
    agent_id: int | None = None
    faq_key: str | None = None
    business_hours: BusinessHours | None = None

    def filters_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "language": self.language,
            "agent": self.agent_id,
            "faq": self.faq_key,
            "business_hours": self.business_hours is not None,
        }


def const(value: str) -> Any:
    """An inline SQL string constant (internal names only), typed so UNIONs agree on both DBs."""
    return literal_column(f"'{value}'", String)


def conversation_clauses(scope: ReportScope, conversation_id: Any) -> list[Any]:
    """WHERE clauses keeping the conversations ``scope``'s filters allow."""
    c, h, m = Conversation.__table__.c, Handoff.__table__.c, Message.__table__.c
    clauses: list[Any] = []
    if scope.channel is not None or scope.language is not None:
        wanted = select(c.id)
        if scope.channel is not None:
            wanted = wanted.where(c.channel == scope.channel)
        if scope.language is not None:
            wanted = wanted.where(c.language == scope.language)
        clauses.append(conversation_id.in_(wanted))
    if scope.agent_id is not None:
        clauses.append(
            exists().where(h.conversation_id == conversation_id, h.agent_id == scope.agent_id)
        )
    if scope.faq_key is not None:
        clauses.append(
            exists().where(
                m.conversation_id == conversation_id,
                m.direction == "in",
                m.faq_key == scope.faq_key,
            )
        )
    return clauses


def turns_cte(scope: ReportScope) -> CTE:
    """One row per counted turn: conversation_id, channel, started_at, status (answered or
    unanswered), responder (bot/agent), reply_agent_id, replied_at, first (1 for the
    conversation's first turn) and rt (response time in seconds, answered turns only)."""
    m = Message.__table__.c
    since, until = scope.period.since, scope.period.until
    window_s = scope.response_window.total_seconds()
    active = select(m.conversation_id).where(
        m.direction == "in",
        m.created_at >= since,
        m.created_at < until,
        *conversation_clauses(scope, m.conversation_id),
    )
    in_conversation: dict[str, Any] = {"partition_by": m.conversation_id, "order_by": m.id}
    relevant = (
        select(
            m.conversation_id,
            m.id,
            m.channel,
            m.direction,
            m.author,
            m.agent_id,
            m.created_at,
            func.lag(m.direction).over(**in_conversation).label("previous"),
        )
        .where(
            m.conversation_id.in_(active),
            m.created_at < until + scope.response_window,
            or_(
                m.direction == "in",
                and_(
                    m.kind == MessageKind.REPLY.value,
                    m.author.in_([Author.BOT.value, Author.AGENT.value]),
                ),
            ),
        )
        .subquery("relevant")
    )
    r = relevant.c
    marks = (
        select(r.conversation_id, r.id, r.channel, r.direction, r.author, r.agent_id, r.created_at)
        .where(
            or_(
                and_(r.direction == "in", or_(r.previous.is_(None), r.previous != "in")),
                and_(r.direction != "in", r.previous == "in"),
            )
        )
        .subquery("marks")
    )
    k = marks.c
    by_mark: dict[str, Any] = {"partition_by": k.conversation_id, "order_by": k.id}
    paired = select(
        k.conversation_id,
        k.channel,
        k.direction,
        k.created_at.label("started_at"),
        func.lead(k.created_at).over(**by_mark).label("replied_at"),
        func.lead(k.author).over(**by_mark).label("responder"),
        func.lead(k.agent_id).over(**by_mark).label("reply_agent_id"),
        func.row_number().over(**by_mark).label("ordinal"),
    ).subquery("paired")
    p = paired.c
    answered = and_(
        p.replied_at.is_not(None), seconds_between(p.replied_at, p.started_at) <= window_s
    )
    return (
        select(
            p.conversation_id,
            p.channel,
            p.started_at,
            case((answered, const("answered")), else_=const("unanswered")).label("status"),
            case((answered, p.responder), else_=None).label("responder"),
            case((answered, p.reply_agent_id), else_=None).label("reply_agent_id"),
            case((answered, p.replied_at), else_=None).label("replied_at"),
            case((p.ordinal == 1, 1), else_=0).label("first"),
            case((answered, seconds_between(p.replied_at, p.started_at)), else_=None).label("rt"),
        )
        .where(
            p.direction == "in",
            p.started_at >= since,
            p.started_at < until,
            or_(answered, p.started_at <= scope.as_of - scope.response_window),
        )
        .cte("turns")
    )
