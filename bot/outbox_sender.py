"""The outbox sender: delivers stored replies through the channels, with retries.

A reply is stored (queued) in the same transaction that processed the customer's message, so it
cannot be lost; this sender hands it to the platform and records the result. Per conversation only
the oldest queued reply is in flight, so replies arrive in the order they were written; a reply
waiting for a retry holds back the ones after it.

Crash semantics: a reply is marked sent right after the platform accepts it. A crash in the
milliseconds between the two resends it at the next start: we prefer a rare duplicate to a lost
answer, as no platform here offers an idempotency key for sends. A graceful stop does not cut a send
in half: it lets the sends in flight end and be recorded (see :meth:`ConversationTasks.finish`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence
from datetime import timedelta

from bot import log_context, telemetry
from bot.conversation_events import NO_EVENTS, DeliveryChanged, EventPublisher
from bot.conversation_tasks import ConversationTasks, sweep_forever
from bot.interfaces import DeliveryError, OutputChannel
from bot.messages import Channel, DeliveryStatus, MessageKind, OutboundMessage
from bot.settings import SenderBehaviour
from bot.storage.conversation_store import QueuedOutbound, SqlConversationStore, utcnow

log = logging.getLogger(__name__)


class OutboxSender:
    """Sends each conversation's queued replies in order through its :class:`OutputChannel`."""

    def __init__(
        self,
        store: SqlConversationStore,
        outputs: Mapping[Channel, OutputChannel],
        behaviour: SenderBehaviour,
        *,
        sweep_interval: float,
        events: EventPublisher = NO_EVENTS,
    ) -> None:
        self._store = store
        self._outputs = dict(outputs)
        self._events = events
        self._behaviour = behaviour
        self._limit = asyncio.Semaphore(behaviour.concurrency)
        self._sweep_interval = sweep_interval
        self._tasks = ConversationTasks(self._drain, "outbox")
        self._timers: dict[int, asyncio.TimerHandle] = {}
        # Replies handed over by the completing transaction, for a drain about to start.
        self._handed: dict[int, QueuedOutbound] = {}

    def wake(
        self,
        conversation_id: int,
        queued: Sequence[QueuedOutbound] = (),
        older_queued: bool = True,
    ) -> None:
        """Send the conversation's queued replies, oldest first.

        ``queued`` are replies just queued (in order, as the queueing transaction saw them) and
        ``older_queued`` whether an older reply of the conversation was still queued then. With
        none older and no drain or retry timer of the conversation active, the drain starts with
        them instead of reading them back; otherwise it reads the outbox, in order.
        """
        if (
            not queued
            or older_queued
            or self._tasks.active(conversation_id)
            or conversation_id in self._timers
        ):
            self._tasks.wake(conversation_id)
            return
        # The first is enough: each recorded send returns the next queued reply.
        self._handed[conversation_id] = queued[0]
        if not self._tasks.wake(conversation_id):
            self._handed.pop(conversation_id, None)

    async def sweep(self) -> int:
        """Wake every conversation with queued replies that no drain is sending; returns how many.

        A running drain sends what is queued, in order, before it ends, so waking it again would
        only make it read the outbox once more: under a backlog that was thousands of reads per
        sweep.
        """
        ids = await self._store.queued_conversation_ids(self._outputs)
        idle = [i for i in ids if not self._tasks.active(i)]
        for conversation_id in idle:
            self.wake(conversation_id)
        return len(idle)

    async def run(self) -> None:
        """Sweep now and then forever (cancel to stop); wake-ups do the rest."""
        await sweep_forever(self.sweep, self._sweep_interval, "outbox")

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await self._tasks.close()

    async def idle(self) -> None:
        await self._tasks.idle()

    @property
    def busy(self) -> bool:
        """True while any conversation is being drained."""
        return self._tasks.busy > 0

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with full jitter on the upper half, capped."""
        base = self._behaviour.backoff_base.total_seconds()
        cap = self._behaviour.backoff_max.total_seconds()
        delay = min(cap, base * 2.0 ** max(0, attempts - 1))
        return delay / 2 + random.uniform(0, delay / 2)

    async def _drain(self, conversation_id: int) -> None:
        # Each step's next reply comes from the step before (the queueing transaction, then each
        # recording one); the outbox is read only when there is none to go by.
        queued = self._handed.pop(conversation_id, None)
        if queued is None:
            queued = await self._store.next_outbound(conversation_id)
        while queued is not None:
            message = queued.message
            with log_context.conversation(conversation_id, message.channel.value):
                if queued.next_attempt_at is not None:
                    wait = (queued.next_attempt_at - utcnow()).total_seconds()
                    if wait > 0:
                        self._wake_later(conversation_id, wait)
                        return
                async with self._limit:
                    sent, queued = await self._tasks.finish(self._send(queued))
                if not sent:
                    return

    def _wake_later(self, conversation_id: int, delay: float) -> None:
        previous = self._timers.pop(conversation_id, None)
        if previous is not None:
            previous.cancel()

        def fire() -> None:
            self._timers.pop(conversation_id, None)
            self.wake(conversation_id)

        self._timers[conversation_id] = asyncio.get_running_loop().call_later(delay, fire)

    async def _send(self, queued: QueuedOutbound) -> tuple[bool, QueuedOutbound | None]:
        """Try to send the head of the queue; returns whether it was dealt with, and the new head.

        Not dealt with (False) when it stays queued for another process.
        """
        message = queued.message
        output = self._outputs.get(message.channel)
        if output is None:  # not hosted here any more; leave it for a process that hosts it
            log.warning(
                "no output for channel %s; reply %s left queued", message.channel, message.id
            )
            return False, None
        if queued.customer_unreachable:
            following = await self._store.mark_failed(
                message.id,
                code="unreachable",
                detail="the customer cannot be reached on this channel",
            )
            self._published(message, DeliveryStatus.FAILED, "unreachable")
            return True, following
        if self._outside_window(queued, output):
            log.warning("reply %s held: outside the channel's reply window", message.id)
            following = await self._store.mark_held(
                message.id,
                code="outside_window",
                detail="the customer's last message is older than the channel's reply window",
            )
            self._published(message, DeliveryStatus.HELD, "outside_window")
            return True, following
        try:
            delivery = await output.send_reply(message)
        except DeliveryError as exc:
            return True, await self._record_failure(queued, exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an adapter bug must not lose the reply: retry like a 5xx
            log.exception("sending reply %s raised unexpectedly", message.id)
            error = DeliveryError(str(exc) or type(exc).__name__)
            return True, await self._record_failure(queued, error)
        following = await self._store.mark_sent(message.id, delivery)
        self._published(message, DeliveryStatus.SENT)
        telemetry.REPLIES_SENT.labels(message.channel.value).inc()
        log.info("reply %s sent", message.id)
        return True, following

    def _published(
        self, message: OutboundMessage, status: DeliveryStatus, code: str | None = None
    ) -> None:
        """Tell the live console the message's new delivery state (after it is recorded)."""
        self._events.publish(DeliveryChanged(message.conversation_id, message.id, status, code))

    @staticmethod
    def _outside_window(queued: QueuedOutbound, output: OutputChannel) -> bool:
        window = output.reply_window
        if window is None or queued.message.reply.kind == MessageKind.BROADCAST:
            return False
        last = queued.last_inbound_at
        return last is None or utcnow() - last > window

    async def _record_failure(
        self, queued: QueuedOutbound, error: DeliveryError
    ) -> QueuedOutbound | None:
        """Record a failed attempt; returns the conversation's new head of the queue."""
        message = queued.message
        attempts = queued.attempts + 1
        final = error.permanent or attempts >= self._behaviour.max_attempts
        telemetry.DELIVERY_FAILURES.labels(message.channel.value, str(final).lower()).inc()
        if final:
            log.warning("reply %s failed for good (%s): %s", message.id, error.code, error)
            following = await self._store.mark_failed(
                message.id,
                code=error.code,
                detail=str(error),
                customer_unreachable=queued.customer_id if error.unreachable else None,
            )
            self._published(message, DeliveryStatus.FAILED, error.code)
            return following
        delay = max(error.retry_after or 0.0, self.backoff(attempts))
        log.info(
            "reply %s: attempt %d failed (%s), retry in %.1fs",
            message.id,
            attempts,
            error.code,
            delay,
        )
        return await self._store.mark_retry(
            message.id,
            next_attempt_at=utcnow() + timedelta(seconds=delay),
            code=error.code,
            detail=str(error),
        )
