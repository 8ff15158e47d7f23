"""Building desk situations in a real database: customers who asked for a person, agents, a desk.

Handoffs are made the way production makes them (an accepted message completed with a handoff
outcome by the conversation store), so the desk is tested on rows the engine really writes.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.conversation_events import ConversationEvent
from bot.engine import Outcome
from bot.messages import Channel, ConversationState, InboundMessage, MessageKind, Reply
from bot.settings import Behaviour
from bot.storage.conversation_store import SqlConversationStore
from bot.storage.database import Database
from handoff.desk import AgentDesk
from handoff.principal import AgentRecord, Principal
from tests.fixtures.gateway import SHIPPED_BEHAVIOUR

_ids = itertools.count(1)
PASSWORD = "correct horse battery"


def behaviour(**handoff: Any) -> Behaviour:
    """The shipped behaviour with ``handoff`` keys changed (auto_assign, agent_name_prefix)."""
    changed = SHIPPED_BEHAVIOUR.handoff.model_copy(update=handoff)
    return SHIPPED_BEHAVIOUR.model_copy(update={"handoff": changed})


class RecordingEvents:
    """An event publisher that keeps what it is told."""

    def __init__(self) -> None:
        self.events: list[ConversationEvent] = []

    def publish(self, event: ConversationEvent) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


class DeskWorld:
    """A desk on a real database, with helpers to make customers wait and agents work."""

    def __init__(self, database: Database, behaviour_: Behaviour | None = None) -> None:
        self.database = database
        self.store = SqlConversationStore(database)
        self.woken: list[int] = []
        self.events = RecordingEvents()
        self.desk = AgentDesk(
            database,
            behaviour_ or behaviour(),
            wake_sender=self.woken.append,
            events=self.events,
        )

    async def waiting(
        self,
        *,
        language: str = "it",
        channel: Channel = Channel.WHATSAPP,
        name: str | None = "Maria",
        text: str = "voglio parlare con un operatore",
    ) -> int:
        """A customer who asked for a person; returns the waiting conversation's id."""
        n = next(_ids)
        accepted = await self.store.accept(
            InboundMessage(
                channel=channel,
                sender_id=f"whatsapp:+3933300{n:05d}" if channel == Channel.WHATSAPP else str(n),
                message_id=f"in-{n}",
                text=text,
                received_at=datetime.now(UTC),
                sender_name=name,
            )
        )
        assert accepted is not None
        outcome = Outcome(
            language=language,
            replies=(Reply("a person will answer", kind=MessageKind.NOTICE),),
            state=ConversationState.WAITING,
            fallback_streak=0,
            awaiting=None,
            handoff_reason="customer_request",
            handoff_detail=text,
            decision="handoff",
        )
        completed = await self.store.complete(accepted.pending, outcome)
        assert completed.applied
        return accepted.conversation_id

    async def customer_writes(self, conversation_id: int, text: str) -> None:
        """Another message from the conversation's customer, processed silently (agent owns it)."""
        view = await self.desk.store.conversation(conversation_id)
        assert view is not None
        n = next(_ids)
        accepted = await self.store.accept(
            InboundMessage(
                channel=Channel(view.channel),
                sender_id=view.customer.platform_id,
                message_id=f"in-{n}",
                text=text,
                received_at=datetime.now(UTC),
            )
        )
        assert accepted is not None
        pending = accepted.pending
        outcome = Outcome(
            language=pending.conversation.language or "it",
            replies=(),
            state=pending.conversation.state,
            fallback_streak=pending.conversation.fallback_streak,
            awaiting=pending.conversation.awaiting,
            decision="silent",
        )
        assert (await self.store.complete(pending, outcome)).applied

    async def agent(
        self,
        username: str,
        *,
        languages: Sequence[str] = ("it", "en"),
        is_admin: bool = False,
        available: bool = False,
    ) -> Principal:
        record = await self.desk.agents.add_agent(
            username,
            PASSWORD,
            display_name=username.capitalize(),
            languages=languages,
            is_admin=is_admin,
        )
        if available:
            record = await self.desk.agents.set_status(record.id, "available")
        return Principal.for_agent(record)

    async def age_handoff(self, conversation_id: int, minutes: float) -> None:
        """Pretend the conversation's handoff was requested ``minutes`` ago."""
        from sqlalchemy import update

        from bot.storage.models import Handoff

        when = datetime.now(UTC) - timedelta(minutes=minutes)
        async with self.database.write() as session:
            await session.execute(
                update(Handoff)
                .where(Handoff.conversation_id == conversation_id)
                .values(requested_at=when)
            )


def record_of(principal: Principal) -> AgentRecord:
    assert principal.agent is not None
    return principal.agent
