"""The agent desk: the queue, claiming, agent replies and notes, transfers, release and resolve.

This is the core of the handoff (no web framework): the API, the console and the CLI call it with
a :class:`Principal`, and every method authorises before it acts. An agent reads everything but
acts only on conversations it owns; an admin (an agent with ``is_admin`` or the admin token) may
also transfer, release, resolve and annotate any conversation, but only an agent claims or
replies, since a reply goes out under an agent's name.

Agent replies are outbox rows (``kind='reply'``, ``author='agent'``, ``status='queued'``) like the
bot's, so they get the same ordering, retries and delivery receipts; the desk then wakes the sender
so they leave at once. After every committed change the desk publishes a live event
(:mod:`bot.conversation_events`) for the console's stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from bot.conversation_events import (
    NO_EVENTS,
    UNKNOWN,
    ConversationChanged,
    ConversationClaimed,
    EventPublisher,
    HandoffRequested,
    MessageAdded,
    Owner,
)
from bot.messages import Choice, ConversationState, MessageKind, Reply
from bot.settings import Behaviour
from bot.storage.database import Database
from handoff.agent_store import SqlAgentStore
from handoff.assignment import choose_agent
from handoff.canned_text import fill
from handoff.desk_errors import DeskError, Forbidden, InvalidRequest, NotFound
from handoff.desk_store import SqlDeskStore
from handoff.principal import AgentRecord, Principal
from handoff.views import (
    AgentView,
    CannedReplyView,
    ConversationView,
    CustomerView,
    MessageView,
    QueueSummary,
)

log = logging.getLogger(__name__)

#: ``conversations.awaiting`` after a resolve: the customer's next message may be a rating.
AWAITING_FEEDBACK = "feedback"
FEEDBACK_PAYLOAD = "feedback:{rating}"
MAX_TEXT = 4000
MAX_LIMIT = 500
STATES = tuple(s.value for s in ConversationState)


class AgentDesk:
    """The agent desk (see the module docstring).

    Args:
        database: the gateway's database.
        behaviour: texts (feedback request), ``handoff.auto_assign``, ``handoff.agent_name_prefix``.
        wake_sender: called with a conversation id after a message was queued in its outbox.
        events: where live events go (the console's hub), told after every committed change.
        sweep_interval: seconds between auto-assignment passes when no handoff notice pokes the
            desk first.
    """

    def __init__(
        self,
        database: Database,
        behaviour: Behaviour,
        *,
        wake_sender: Callable[[int], None] = lambda _id: None,
        events: EventPublisher = NO_EVENTS,
        sweep_interval: float = 2.0,
    ) -> None:
        self.agents = SqlAgentStore(database)
        self.store = SqlDeskStore(database)
        self.database = database  # read by the reports API (bot.reports)
        self.behaviour = behaviour
        self._behaviour = behaviour
        self._wake_sender = wake_sender
        self._sweep_interval = sweep_interval
        self._events = events
        self._poked = asyncio.Event()
        self._assign_lock = asyncio.Lock()

    # ------------------------------------------------------------------------------ events

    def _changed(self, view: ConversationView, previous_owner: int | None) -> None:
        self._events.publish(
            ConversationChanged(
                view.id, view.agent_id, view.as_json(), previous_owner_id=previous_owner
            )
        )

    def _message_added(self, message: MessageView, owner: Owner) -> None:
        self._events.publish(MessageAdded(message.conversation_id, message.as_json(), owner))

    # ------------------------------------------------------------------------------ agents

    async def me(self, principal: Principal) -> AgentView:
        agent = _agent_of(principal)
        found = await self.agents.agent_view(agent.id)
        if found is None:
            raise NotFound("your agent no longer exists")
        return found

    async def set_status(self, principal: Principal, status: str) -> AgentView:
        """Available or away; becoming available assigns waiting conversations (if enabled)."""
        agent = _agent_of(principal)
        await self.agents.set_status(agent.id, status)
        if status == "available" and self._behaviour.handoff.auto_assign:
            await self.assign_waiting()
        return await self.me(principal)

    async def list_agents(self, principal: Principal) -> list[AgentView]:
        return await self.agents.agents()

    # ------------------------------------------------------------------------------ reading

    async def queue(self, principal: Principal) -> list[ConversationView]:
        """Waiting conversations, those in the caller's languages first, longest wait first."""
        languages = () if principal.agent is None else principal.agent.languages
        return await self.store.queue(languages)

    async def queue_summary(self) -> QueueSummary:
        return await self.store.queue_summary()

    async def conversations(
        self,
        principal: Principal,
        *,
        owner: str = "me",
        states: Sequence[str] = (),
        customer_id: int | None = None,
        limit: int = 50,
    ) -> list[ConversationView]:
        """Conversations newest first: the caller's own (``owner='me'``) or anyone's."""
        if owner not in ("me", "any"):
            raise InvalidRequest("owner: expected me or any")
        unknown = [s for s in states if s not in STATES]
        if unknown:
            raise InvalidRequest(f"state: expected some of {', '.join(STATES)}")
        owner_id = None
        if owner == "me":
            owner_id = _agent_of(principal).id
        return await self.store.conversations(
            owner_id=owner_id,
            states=states,
            customer_id=customer_id,
            limit=_limit(limit, 200),
        )

    async def conversation(self, principal: Principal, conversation_id: int) -> ConversationView:
        return await self._conversation(conversation_id)

    async def _conversation(self, conversation_id: int) -> ConversationView:
        found = await self.store.conversation(conversation_id)
        if found is None:
            raise NotFound(f"no conversation {conversation_id}")
        return found

    async def messages(
        self, principal: Principal, conversation_id: int, *, after_id: int = 0, limit: int = 100
    ) -> list[MessageView]:
        """A conversation's messages after ``after_id``, oldest first, private notes included."""
        await self._conversation(conversation_id)
        return await self.store.messages(
            conversation_id, after_id=after_id, limit=_limit(limit, MAX_LIMIT)
        )

    async def customer(
        self, principal: Principal, customer_id: int
    ) -> tuple[CustomerView, list[ConversationView]]:
        """A customer's profile and conversations, newest first (earlier ones too)."""
        found = await self.store.customer(customer_id)
        if found is None:
            raise NotFound(f"no customer {customer_id}")
        return found

    # ------------------------------------------------------------------------------ acting

    async def claim(self, principal: Principal, conversation_id: int) -> ConversationView:
        """Take a waiting conversation; exactly one of many concurrent claimers wins.

        Raises:
            AlreadyClaimed: another agent was first.
            Conflict: the conversation does not wait for an agent.
        """
        agent = _agent_of(principal, "claim")
        view = await self.store.claim(conversation_id, agent.id)
        self._claimed(view, agent.id)
        return view

    def _claimed(self, view: ConversationView, agent_id: int) -> None:
        log.info("conversation %s claimed by agent %s", view.id, agent_id)
        self._events.publish(ConversationClaimed(view.id, agent_id))
        self._changed(view, None)

    async def reply(
        self,
        principal: Principal,
        conversation_id: int,
        *,
        text: str | None = None,
        canned_reply_id: int | None = None,
    ) -> MessageView:
        """Queue the owner's reply in the outbox (prefixed with its name if configured)."""
        agent = _agent_of(principal, "reply")
        if (text is None) == (canned_reply_id is None):
            raise InvalidRequest("text: give either text or canned_reply_id")
        if canned_reply_id is not None:
            canned = await self.agents.canned_reply(canned_reply_id)
            conversation = await self._conversation(conversation_id)
            text = fill(
                canned.text,
                {
                    "name": conversation.customer.display_name or "",
                    "agent": agent.display_name,
                    "conversation": str(conversation_id),
                },
            )
        body = _text(text)
        prefix = self._behaviour.handoff.agent_name_prefix
        if prefix:
            body = fill(prefix, {"name": agent.display_name}) + body
        message = await self.store.add_agent_message(
            conversation_id,
            text=body,
            kind=MessageKind.REPLY,
            agent_id=agent.id,
            owner=agent.id,
        )
        self._wake_sender(conversation_id)
        self._message_added(message, agent.id)
        return message

    async def add_note(self, principal: Principal, conversation_id: int, text: str) -> MessageView:
        """A private note on the conversation, for agents only; never sent to the customer."""
        body = _text(text)
        owner = None if principal.is_admin else _agent_of(principal).id
        message = await self.store.add_agent_message(
            conversation_id,
            text=body,
            kind=MessageKind.NOTE,
            agent_id=principal.agent_id,
            owner=owner,
        )
        self._message_added(message, UNKNOWN if owner is None else owner)
        return message

    async def transfer(
        self, principal: Principal, conversation_id: int, agent_id: int | None
    ) -> ConversationView:
        """Give the conversation to ``agent_id``, or back to the queue with None."""
        owner = None if principal.is_admin else _agent_of(principal).id
        moved = await self.store.transfer(
            conversation_id, to_agent_id=agent_id, by_agent_id=principal.agent_id, owner=owner
        )
        view = moved.conversation
        log.info(
            "conversation %s transferred from agent %s to %s",
            view.id,
            moved.previous_agent_id,
            agent_id if agent_id is not None else "the queue",
        )
        self._changed(view, moved.previous_agent_id)
        if agent_id is None:
            self._events.publish(HandoffRequested(view.id, view.as_json()))
        elif moved.previous_agent_id is None:
            self._events.publish(ConversationClaimed(view.id, agent_id))
        if agent_id is None and self._behaviour.handoff.auto_assign:
            await self.assign_waiting()
        return view

    async def release(self, principal: Principal, conversation_id: int) -> ConversationView:
        """Hand the conversation back to the bot without asking for feedback."""
        return await self._end(principal, conversation_id, "released", feedback=False)

    async def resolve(self, principal: Principal, conversation_id: int) -> ConversationView:
        """Close the handoff: the bot takes over and asks the customer for feedback."""
        return await self._end(principal, conversation_id, "resolved", feedback=True)

    async def _end(
        self, principal: Principal, conversation_id: int, reason: str, *, feedback: bool
    ) -> ConversationView:
        owner = None if principal.is_admin else _agent_of(principal).id
        notice = None
        if feedback:
            language = (await self._conversation(conversation_id)).language
            notice = self.feedback_request(language or self._behaviour.default_language)
        ended = await self.store.end_handoff(
            conversation_id,
            reason=reason,
            owner=owner,
            awaiting=AWAITING_FEEDBACK if feedback else None,
            notice=notice,
        )
        view = ended.conversation
        log.info("conversation %s handoff %s", view.id, reason)
        if ended.feedback_request is not None:
            self._wake_sender(conversation_id)
            self._message_added(ended.feedback_request, None)
        self._changed(view, ended.previous_agent_id)
        return view

    def feedback_request(self, language: str) -> Reply:
        """The feedback request: the configured text with ratings 1 to 5 as choices."""
        return Reply(
            self._behaviour.text("feedback_request", language),
            tuple(
                Choice("⭐" * rating, FEEDBACK_PAYLOAD.format(rating=rating))
                for rating in range(1, 6)
            ),
            kind=MessageKind.NOTICE,
        )

    # ------------------------------------------------------------------------------ canned replies

    async def canned_replies(
        self, principal: Principal, language: str | None = None
    ) -> list[CannedReplyView]:
        return await self.agents.canned_replies(language)

    async def add_canned_reply(
        self,
        principal: Principal,
        *,
        shortcut: str,
        title: str,
        text: str,
        language: str | None = None,
    ) -> CannedReplyView:
        return await self.agents.add_canned_reply(
            shortcut=shortcut,
            title=_text(title, field="title", limit=256),
            text=_text(text),
            language=self._language(language),
            created_by=principal.agent_id,
        )

    async def update_canned_reply(
        self, principal: Principal, reply_id: int, **changes: Any
    ) -> CannedReplyView:
        """Change a canned reply: its author or an admin."""
        await self._may_edit(principal, reply_id)
        checked: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "language":
                checked[key] = self._language(value)
            elif key == "title":
                checked[key] = _text(value, field="title", limit=256)
            elif key == "text":
                checked[key] = _text(value)
            elif key == "shortcut":
                checked[key] = value
            else:
                raise InvalidRequest(f"{key}: not a field of a canned reply")
        return await self.agents.update_canned_reply(reply_id, **checked)

    async def delete_canned_reply(self, principal: Principal, reply_id: int) -> None:
        await self._may_edit(principal, reply_id)
        await self.agents.delete_canned_reply(reply_id)

    async def _may_edit(self, principal: Principal, reply_id: int) -> None:
        canned = await self.agents.canned_reply(reply_id)
        if principal.is_admin or canned.created_by in (None, principal.agent_id):
            return
        raise Forbidden(f"canned reply {reply_id} belongs to another agent")

    def _language(self, language: str | None) -> str | None:
        if language is None or language == "":
            return None
        if language not in self._behaviour.languages:
            raise InvalidRequest(
                f"language: expected one of {', '.join(self._behaviour.languages)}"
            )
        return language

    # ------------------------------------------------------------------------------ auto-assignment

    def replies_queued(self, conversation_id: int, replies: Sequence[Reply]) -> None:
        """The inbox worker queued bot replies: a notice may mean a new handoff; assign soon."""
        if self._behaviour.handoff.auto_assign and any(
            r.kind == MessageKind.NOTICE for r in replies
        ):
            self._poked.set()

    async def run(self) -> None:
        """Auto-assign when poked or every ``sweep_interval`` (cancel to stop).

        Returns at once when auto-assignment is off.
        """
        if not self._behaviour.handoff.auto_assign:
            return
        while True:
            try:
                await self.assign_waiting()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("auto-assignment failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), self._sweep_interval)
            self._poked.clear()

    async def assign_waiting(self) -> int:
        """Assign waiting conversations (oldest first) to available agents; returns how many."""
        async with self._assign_lock:
            agents = await self.store.available_agents()
            if not agents:
                return 0
            counts = {a.id: a.open_conversations for a in agents}
            assigned = 0
            for view in await self.store.queue(()):
                chosen = choose_agent(view.language, agents, counts)
                if chosen is None:
                    break
                try:
                    claimed = await self.store.claim(view.id, chosen.id)
                except DeskError:
                    continue  # claimed by hand meanwhile, or handed back to the bot
                counts[chosen.id] = counts.get(chosen.id, 0) + 1
                assigned += 1
                self._claimed(claimed, chosen.id)
            return assigned


def _agent_of(principal: Principal, action: str | None = None) -> AgentRecord:
    """The calling agent; the admin token is no agent and cannot do what needs one."""
    if principal.agent is None:
        what = f"{action} conversations" if action else "do this"
        raise Forbidden(f"the admin token acts as no agent and cannot {what}")
    return principal.agent


def _text(value: str | None, *, field: str = "text", limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{field}: expected a non-empty string")
    if len(value) > limit:
        raise InvalidRequest(f"{field}: at most {limit} characters")
    return value.strip()


def _limit(value: int, maximum: int) -> int:
    if value < 1:
        raise InvalidRequest("limit: expected a positive number")
    return min(value, maximum)


__all__ = ["AWAITING_FEEDBACK", "FEEDBACK_PAYLOAD", "AgentDesk"]
