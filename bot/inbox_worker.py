"""The inbox worker: processes stored customer messages, in order per conversation.

Adapters only store messages (:class:`Inbox`) and return at once; this worker does the slow part
(NLU, deciding, queueing replies). Because the work is driven by what is stored, a restart simply
resumes it: the startup sweep finds every message that was accepted but not yet processed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence

from bot import log_context, telemetry
from bot.conversation_events import (
    NO_EVENTS,
    UNKNOWN,
    EventPublisher,
    HandoffRequested,
    MessageAdded,
    Owner,
    inbound_message_json,
    outbound_message_json,
)
from bot.conversation_tasks import ConversationTasks, sweep_forever
from bot.engine import ConversationEngine, HandoffReason, Outcome, PendingInbound
from bot.interfaces import MessageSink
from bot.messages import Channel, ConversationState, InboundMessage, MessageKind, Reply
from bot.storage.conversation_store import (
    QueuedOutbound,
    SqlConversationStore,
    StaleConversation,
    utcnow,
)

log = logging.getLogger(__name__)

# An engine error on the same message this many times hands the conversation to a person.
MAX_ENGINE_FAILURES = 3


class InboxWorker:
    """Drains each conversation's unprocessed messages through the engine."""

    def __init__(
        self,
        store: SqlConversationStore,
        engine: ConversationEngine,
        channels: Iterable[Channel],
        *,
        concurrency: int,
        sweep_interval: float,
        on_replies: Callable[[int, Sequence[QueuedOutbound], bool], None],
        error_text: Callable[[str], str],
        events: EventPublisher = NO_EVENTS,
    ) -> None:
        self._store = store
        self._engine = engine
        self._events = events
        self._channels = frozenset(channels)
        self._limit = asyncio.Semaphore(concurrency)
        self._sweep_interval = sweep_interval
        self._on_replies = on_replies
        self._error_text = error_text
        self._tasks = ConversationTasks(self._drain, "inbox")
        self._failures: dict[int, int] = {}
        # Messages handed over by the accepting transaction, for a drain about to start.
        self._handed: dict[int, PendingInbound] = {}

    @property
    def channels(self) -> frozenset[Channel]:
        return self._channels

    def wake(
        self,
        conversation_id: int,
        pending: PendingInbound | None = None,
        earlier_pending: bool = True,
    ) -> None:
        """Process the conversation's unprocessed messages.

        ``pending`` is a message just accepted (as the accepting transaction saw it) and
        ``earlier_pending`` whether an older one of the conversation was still unprocessed then.
        With none older and no drain of the conversation running, the drain starts with
        ``pending`` instead of reading it back; otherwise the drain reads the inbox, in order.
        """
        if pending is None or earlier_pending or self._tasks.active(conversation_id):
            self._tasks.wake(conversation_id)
            return
        self._handed[conversation_id] = pending
        if not self._tasks.wake(conversation_id):
            self._handed.pop(conversation_id, None)

    async def sweep(self) -> int:
        """Wake every conversation with unprocessed messages that no drain has; returns how many.

        A running (or waiting) drain processes the conversation's messages in order before it
        ends, so waking it again would only make it read the inbox once more: under a backlog
        that was thousands of reads per sweep.
        """
        ids = await self._store.pending_conversation_ids(self._channels)
        idle = [i for i in ids if not self._tasks.active(i)]
        for conversation_id in idle:
            self.wake(conversation_id)
        return len(idle)

    async def run(self) -> None:
        """Sweep now and then forever (cancel to stop); wake-ups do the rest."""

        async def sweep_and_close_idle() -> None:
            await self.sweep()
            await self._store.close_idle()

        await sweep_forever(sweep_and_close_idle, self._sweep_interval, "inbox")

    async def close(self) -> None:
        await self._tasks.close()

    async def idle(self) -> None:
        await self._tasks.idle()

    @property
    def busy(self) -> bool:
        """True while any conversation is being drained."""
        return self._tasks.busy > 0

    async def _drain(self, conversation_id: int) -> None:
        # Each step's next message comes from the step before (the accepting transaction, then
        # each completing one); the inbox is read only when there is none to go by.
        pending = self._handed.pop(conversation_id, None)
        if pending is None:
            pending = await self._store.next_pending(conversation_id)
        while pending is not None:
            with log_context.conversation(conversation_id, pending.conversation.channel.value):
                async with self._limit:
                    outcome = await self._handle(pending)
                if outcome is None:
                    return  # left stored; the sweep retries it
                try:
                    # Once decided, the outcome is committed even if we are being stopped.
                    completed = await self._tasks.finish(self._store.complete(pending, outcome))
                except StaleConversation:
                    log.info(
                        "conversation changed while message %s was handled; again",
                        pending.message_id,
                    )
                    pending = await self._store.next_pending(conversation_id)
                    continue
                if not completed.applied:  # another worker processed it meanwhile
                    pending = completed.next_pending
                    continue
                reply_count = len(completed.replies)
                self._failures.pop(pending.message_id, None)
                channel = pending.conversation.channel.value
                telemetry.MESSAGES_PROCESSED.labels(channel, outcome.decision).inc()
                telemetry.PROCESSING_SECONDS.labels(channel).observe(
                    (utcnow() - pending.created_at).total_seconds()
                )
                if outcome.handoff_reason:
                    telemetry.HANDOFFS.labels(outcome.handoff_reason).inc()
                if outcome.feedback is not None:
                    rating = outcome.feedback.rating
                    telemetry.FEEDBACK.labels(
                        channel, outcome.feedback.kind, "none" if rating is None else str(rating)
                    ).inc()
                if outcome.review_reason:
                    telemetry.REVIEW_ITEMS.labels(outcome.review_reason).inc()
                log_context.intent.set(outcome.nlu.intent if outcome.nlu else None)
                log.info(
                    "message %s handled: %s, %d repl%s",
                    pending.message_id,
                    outcome.decision,
                    reply_count,
                    "y" if reply_count == 1 else "ies",
                )
            if completed.replies:
                self._on_replies(conversation_id, completed.replies, completed.older_queued)
            self._publish(conversation_id, outcome, completed.replies)
            pending = completed.next_pending

    def _publish(
        self, conversation_id: int, outcome: Outcome, replies: Sequence[QueuedOutbound]
    ) -> None:
        """Tell the live console what the committed outcome queued and whether it handed off."""
        now = utcnow()
        owner = _owner_after(outcome.state)
        for queued in replies:
            message = outbound_message_json(queued.message, now)
            self._events.publish(MessageAdded(conversation_id, message, owner))
        if outcome.handoff_reason and outcome.state == ConversationState.WAITING:
            self._events.publish(HandoffRequested(conversation_id))

    async def _handle(self, pending: PendingInbound) -> Outcome | None:
        try:
            return await self._engine.handle(pending)
        except asyncio.CancelledError:
            raise
        except Exception:
            failures = self._failures.get(pending.message_id, 0) + 1
            self._failures[pending.message_id] = failures
            log.exception("engine failed on message %s (%d time(s))", pending.message_id, failures)
            if failures < MAX_ENGINE_FAILURES:
                return None
            # Never lose the message and never block the conversation behind it: a person takes it.
            language = self._engine.choose_language(pending)
            return Outcome(
                language=language,
                replies=(Reply(self._error_text(language), kind=MessageKind.NOTICE),),
                state=ConversationState.WAITING,
                fallback_streak=0,
                awaiting=None,
                handoff_reason=HandoffReason.ENGINE_ERROR,
                handoff_detail="the engine failed on this message",
                decision="handoff",
            )


def _owner_after(state: ConversationState) -> Owner:
    """Nobody owns a bot or waiting conversation; an agent's is looked up by the event hub."""
    return None if state in (ConversationState.BOT, ConversationState.WAITING) else UNKNOWN


class Inbox(MessageSink):
    """What adapters call: store the message durably, then wake the worker."""

    def __init__(
        self, store: SqlConversationStore, worker: InboxWorker, events: EventPublisher = NO_EVENTS
    ) -> None:
        self._store = store
        self._worker = worker
        self._events = events

    async def accept(self, message: InboundMessage) -> bool:
        accepted = await self._store.accept(message)
        if accepted is None:
            telemetry.MESSAGES_DUPLICATE.labels(message.channel.value).inc()
            log.info("duplicate %s message %s dropped", message.channel.value, message.message_id)
            return False
        telemetry.MESSAGES_RECEIVED.labels(message.channel.value).inc()
        pending = accepted.pending
        self._events.publish(
            MessageAdded(
                accepted.conversation_id,
                inbound_message_json(
                    accepted.message_id, accepted.conversation_id, message, pending.created_at
                ),
                _owner_after(pending.conversation.state),
            )
        )
        if message.channel in self._worker.channels:
            self._worker.wake(accepted.conversation_id, accepted.pending, accepted.earlier_pending)
        return True
