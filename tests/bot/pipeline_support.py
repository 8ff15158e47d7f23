"""Doubles and helpers for testing the inbox worker and the outbox sender through the real pipeline.

The doubles let a test wait for what it expects (``wait_until``) instead of sleeping, and shape the
timing that matters: a slow or blocked NLU call, a platform that answers late or fails.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.interfaces import OutputChannel
from bot.messages import Channel, Delivery, InboundMessage, NluResult, OutboundMessage
from bot.pipeline import Pipeline, running_pipeline
from bot.settings import Behaviour, load_behaviour
from bot.storage.database import Database
from bot.storage.models import Message
from tests.fixtures.doubles import RecordedNlu, RecordingOutput
from tests.fixtures.gateway import ROOT, settings_for

BEHAVIOUR = load_behaviour(ROOT / "config" / "carebot.yml")
_message_ids = itertools.count(1)
# How long a test waits for something it expects before failing.
WAIT_SECONDS = 5.0


def quick_behaviour(
    *,
    sweep: float = 0.05,
    backoff_base: float = 0.01,
    max_attempts: int | None = None,
) -> Behaviour:
    """The shipped behaviour with test-sized sweeps and retry delays."""
    worker = BEHAVIOUR.worker.model_copy(update={"sweep_interval": timedelta(seconds=sweep)})
    sender_update: dict[str, Any] = {
        "backoff_base": timedelta(seconds=backoff_base),
        "backoff_max": timedelta(seconds=max(backoff_base * 8, 0.1)),
    }
    if max_attempts is not None:
        sender_update["max_attempts"] = max_attempts
    sender = BEHAVIOUR.sender.model_copy(update=sender_update)
    return BEHAVIOUR.model_copy(update={"worker": worker, "sender": sender})


def inbound(
    text: str, *, sender: str = "c1", channel: Channel = Channel.WEB, message_id: str | None = None
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        sender_id=sender,
        message_id=message_id or f"msg-{next(_message_ids)}",
        text=text,
        received_at=datetime.now(UTC),
    )


@asynccontextmanager
async def pipeline_for(
    database_url: str,
    output: OutputChannel,
    nlu: RecordedNlu,
    behaviour: Behaviour | None = None,
) -> AsyncIterator[Pipeline]:
    """The real pipeline on ``database_url`` with one web output and a recorded NLU."""
    settings = settings_for(database_url)
    async with running_pipeline(
        settings, behaviour or quick_behaviour(), {Channel.WEB: output}, nlu=nlu
    ) as pipeline:
        yield pipeline


async def outbound_rows(database: Database) -> list[Message]:
    async with database.read() as session:
        return list(
            await session.scalars(
                select(Message).where(Message.direction == "out").order_by(Message.id)
            )
        )


async def inbound_rows(database: Database) -> list[Message]:
    async with database.read() as session:
        return list(
            await session.scalars(
                select(Message).where(Message.direction == "in").order_by(Message.id)
            )
        )


class Changes:
    """Something a test can wait on: ``notify()`` on every change, ``wait_until(predicate)``."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_SECONDS):
            while not predicate():
                self._event.clear()
                await self._event.wait()


class ScriptedNlu(RecordedNlu):
    """Recorded answers, with per-text timing: a delay, a gate to wait for, an error to raise.

    ``log`` records ``("start", text)`` and ``("end", text)`` of every call, so a test can check
    that calls did (or did not) overlap.
    """

    def __init__(
        self,
        answers: Mapping[str, NluResult] | None = None,
        *,
        delays: Mapping[str, float] | None = None,
        gates: Mapping[str, asyncio.Event] | None = None,
        errors: Mapping[str, Exception] | None = None,
        barrier: asyncio.Barrier | None = None,
    ) -> None:
        super().__init__(answers)
        self.delays = dict(delays or {})
        self.gates = dict(gates or {})
        self.errors = dict(errors or {})
        self.barrier = barrier
        self.log: list[tuple[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.changes = Changes()

    def started(self, text: str) -> int:
        return self.log.count(("start", text))

    async def parse(self, text: str) -> NluResult:
        self.log.append(("start", text))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.changes.notify()
        try:
            if self.barrier is not None:
                async with asyncio.timeout(WAIT_SECONDS):
                    await self.barrier.wait()
            if text in self.gates:
                await self.gates[text].wait()
            if text in self.delays:
                await asyncio.sleep(self.delays[text])
            if text in self.errors:
                raise self.errors[text]
            return await super().parse(text)
        finally:
            self.in_flight -= 1
            self.log.append(("end", text))
            self.changes.notify()


class PlatformOutput(RecordingOutput):
    """A recording output that behaves like a remote platform.

    ``received`` holds every request as the platform got it, before it answers: with ``latency``
    the answer comes that much later, so a sender stopped meanwhile has sent a message it has not
    recorded yet.
    """

    def __init__(
        self,
        channel: Channel = Channel.WEB,
        *,
        latency: float = 0.0,
        window: timedelta | None = None,
    ) -> None:
        super().__init__(channel)
        self.latency = latency
        self.reply_window = window
        self.received: list[OutboundMessage] = []
        self.changes = Changes()

    async def send_reply(self, message: OutboundMessage) -> Delivery:
        self.received.append(message)
        self.changes.notify()
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            return await super().send_reply(message)
        finally:
            self.changes.notify()

    async def wait_for_attempts(self, count: int) -> None:
        """Wait until ``count`` send attempts (failed ones included) have been answered."""
        await self.changes.wait_until(lambda: self.attempts >= count)
