"""Customer turns and the replies that answer them (CONTRACT.md section 6), as one SQL query.

Turns are folded in from messages as they arrive (:mod:`bot.reports.turn_folding`, table
``report_turns``): a turn is a maximal run of customer messages, answered by the first reply by the
bot or an agent after it; notices ("an agent will answer soon", feedback requests), broadcasts and
private notes neither answer nor split it, so a customer who writes, gets the handoff notice and
writes again is still in the turn the first agent message answers.

Whether a turn counts depends on the report, so it is decided here: a turn belongs to the period its
first message is in. It is answered when its reply came within the response window; unanswered
when it did not and the window has passed (at ``as_of``); a turn still inside the window without a
reply is left out of both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CTE, String, case, exists, literal_column, or_, select

from bot.reports.periods import Period
from bot.storage.models import Conversation, Handoff, Message, ReportTurn
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
    conversation's first turn) and rt (response time in seconds, answered turns only).

    Read from ``report_turns``, which must have been refreshed first
    (:func:`bot.reports.turn_folding.refresh_turns`).
    """
    t = ReportTurn.__table__.c
    window_s = scope.response_window.total_seconds()
    # response_seconds is set with the reply (answered_at - started_at, stored at fold time).
    answered = t.response_seconds <= window_s
    return (
        select(
            t.conversation_id,
            t.channel,
            t.started_at,
            case((answered, const("answered")), else_=const("unanswered")).label("status"),
            case((answered, t.answered_by), else_=None).label("responder"),
            case((answered, t.agent_id), else_=None).label("reply_agent_id"),
            case((answered, t.answered_at), else_=None).label("replied_at"),
            case((t.is_first, 1), else_=0).label("first"),
            case((answered, t.response_seconds), else_=None).label("rt"),
        )
        .where(
            t.started_at >= scope.period.since,
            t.started_at < scope.period.until,
            or_(answered, t.started_at <= scope.as_of - scope.response_window),
            *conversation_clauses(scope, t.conversation_id),
        )
        .cte("turns")
    )
