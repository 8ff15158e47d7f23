"""Builds the message pipeline: store → inbox worker → engine → NLU → outbox sender → channels.

This is the one place (with :mod:`bot.app`, the web composition root) where the core is wired to its
adapters. The gateway and ``carebot shell`` both use it, so the shell really exercises the same path
as
a webhook: stored inbound message, engine, NLU, stored reply, sender.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from bot.engine import ConversationEngine
from bot.event_hub import EventHub, EventRelay
from bot.faq_catalog import FaqCatalog
from bot.inbox_worker import Inbox, InboxWorker
from bot.interfaces import NluClient, OutputChannel
from bot.messages import Channel
from bot.outbox_sender import OutboxSender
from bot.reports.turn_folding import ReportTurnsRefresher
from bot.settings import Behaviour, Settings
from bot.storage.conversation_store import QueuedOutbound, SqlConversationStore
from bot.storage.database import Database, is_sqlite, upgrade
from bot.storage.delivery_receipts import SqlDeliveryReceipts
from handoff.desk import AgentDesk
from handoff.event_directory import DeskEventDirectory
from handoff.outlook import SqlHandoffOutlook
from nlu.language import detector_from_project
from nlu.rasa_client import RasaNluClient

log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    """The running pieces, for the web app's handlers and for tests."""

    settings: Settings
    behaviour: Behaviour
    database: Database
    store: SqlConversationStore
    receipts: SqlDeliveryReceipts
    nlu: NluClient
    engine: ConversationEngine
    inbox: Inbox
    worker: InboxWorker
    sender: OutboxSender
    events: EventHub
    desk: AgentDesk

    async def idle(self) -> None:
        """Wait until nothing is being processed or sent (tests, shell)."""
        while True:
            await self.worker.idle()
            await self.sender.idle()
            if not (self.worker.busy or self.sender.busy):
                return


def load_faqs(settings: Settings, behaviour: Behaviour) -> FaqCatalog:
    return FaqCatalog.load(
        settings.nlu_project / "answers" / "faq.yml",
        behaviour.languages,
        behaviour.default_language,
    )


@asynccontextmanager
async def running_pipeline(
    settings: Settings,
    behaviour: Behaviour,
    outputs: Mapping[Channel, OutputChannel],
    *,
    nlu: NluClient | None = None,
    migrate: bool = True,
) -> AsyncIterator[Pipeline]:
    """Open the database, start the worker and the sender for ``outputs``' channels; stop on exit.

    Only the channels in ``outputs`` are processed and sent by this process, so ``carebot shell``
    can
    share a database with a running gateway without either taking the other's messages.
    """
    if migrate:
        await upgrade(settings.database_url)
    database = Database.connect(settings.database_url)
    if is_sqlite(settings.database_url):
        # One connection switches the file to WAL before the worker, the sender and the first
        # accepted message open theirs at once: two first connections switching it together can
        # fail with "database is locked".
        await database.ping()
    store = SqlConversationStore(database, inactivity_close=behaviour.conversation.inactivity_close)
    owned_nlu = nlu is None
    nlu_client: NluClient = nlu or RasaNluClient(
        settings.rasa_url,
        timeout=behaviour.nlu.timeout.total_seconds(),
        retries=behaviour.nlu.retries,
    )
    detector = await asyncio.to_thread(
        detector_from_project,
        settings.nlu_project / "data",
        behaviour.languages,
        {
            lang: [t[lang] for t in behaviour.texts.values() if lang in t]
            for lang in behaviour.languages
        },
    )
    engine = ConversationEngine(
        behaviour,
        load_faqs(settings, behaviour),
        nlu_client,
        detector,
        outlook=SqlHandoffOutlook.from_behaviour(database, behaviour),
    )
    events = EventHub(relay=_event_relay(settings))
    sweep = behaviour.worker.sweep_interval.total_seconds()
    sender = OutboxSender(store, outputs, behaviour.sender, sweep_interval=sweep, events=events)
    desk = AgentDesk(
        database, behaviour, wake_sender=sender.wake, events=events, sweep_interval=sweep
    )
    events.directory = DeskEventDirectory(desk.store)  # owners of conversations for live events

    def on_replies(
        conversation_id: int, queued: Sequence[QueuedOutbound], older_queued: bool
    ) -> None:
        sender.wake(conversation_id, queued, older_queued)
        desk.replies_queued(conversation_id, [q.message.reply for q in queued])

    worker = InboxWorker(
        store,
        engine,
        outputs.keys(),
        concurrency=behaviour.worker.concurrency,
        sweep_interval=sweep,
        on_replies=on_replies,
        error_text=lambda language: behaviour.text("nlu_unavailable", language),
        events=events,
    )
    pipeline = Pipeline(
        settings=settings,
        behaviour=behaviour,
        database=database,
        store=store,
        receipts=SqlDeliveryReceipts(database),
        nlu=nlu_client,
        engine=engine,
        inbox=Inbox(store, worker, events),
        worker=worker,
        sender=sender,
        events=events,
        desk=desk,
    )
    background = [
        asyncio.create_task(worker.run(), name="inbox-sweep"),
        asyncio.create_task(sender.run(), name="outbox-sweep"),
        asyncio.create_task(desk.run(), name="desk-auto-assign"),
        asyncio.create_task(ReportTurnsRefresher(database).run(), name="report-turns-refresh"),
    ]
    try:
        async with events.running():
            yield pipeline
    finally:
        for task in background:
            task.cancel()
        for task in background:
            with suppress(asyncio.CancelledError):
                await task
        await worker.close()
        await sender.close()
        if owned_nlu:
            close = getattr(nlu_client, "close", None)
            if close is not None:
                await close()
        await database.dispose()


def _event_relay(settings: Settings) -> EventRelay | None:
    """Redis pub/sub between gateway processes when ``CAREBOT_REDIS_URL`` is set, else none."""
    if not settings.redis_url:
        return None
    from bot.redis_event_relay import RedisEventRelay, channel_for  # redis only when used

    return RedisEventRelay(settings.redis_url, channel=channel_for(settings.database_url))
