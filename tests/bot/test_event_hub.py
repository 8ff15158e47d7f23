"""The live event hub: who sees what, replay on reconnect, slow subscribers, the queue count."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest

from bot.conversation_events import (
    UNKNOWN,
    ConversationChanged,
    ConversationClaimed,
    DeliveryChanged,
    HandoffRequested,
    MessageAdded,
)
from bot.event_hub import EventHub, StreamItem, Subscription, Viewer

pytestmark = pytest.mark.timeout(20)

ALICE, BOB = Viewer(1), Viewer(2)
ADMIN = Viewer(None, is_admin=True)


class FakeDirectory:
    """Owners, conversations and the queue as a dict; counts its lookups."""

    def __init__(self, owners: Mapping[int, int | None] | None = None, waiting: int = 0) -> None:
        self.owners = dict(owners or {})
        self.waiting = waiting
        self.lookups: list[int] = []

    async def owner_of(self, conversation_id: int) -> int | None:
        self.lookups.append(conversation_id)
        return self.owners.get(conversation_id)

    async def conversation(self, conversation_id: int) -> Mapping[str, Any] | None:
        return {"id": conversation_id, "state": "waiting"}

    async def queue_stats(self) -> tuple[int, float | None]:
        return self.waiting, 12.5 if self.waiting else None


async def take(subscription: Subscription, seconds: float = 2.0, queue: bool = False) -> StreamItem:
    """The next event; ``queue`` counts are skipped unless asked for."""
    while True:
        item = await subscription.next(seconds)
        assert item is not None, "no event arrived"
        if queue or item.delivery.name != "queue":
            return item


async def nothing_for(subscription: Subscription, seconds: float = 0.2) -> None:
    while True:
        item = await subscription.next(seconds)
        if item is None:
            return
        assert item.delivery.name == "queue", f"unexpected {item.delivery.data_json}"


def data(item: StreamItem) -> Any:
    return json.loads(item.delivery.data_json)


def message(conversation_id: int, text: str = "hi") -> dict[str, Any]:
    return {"id": 1, "conversation_id": conversation_id, "text": text}


async def test_a_message_reaches_its_owner_and_admins_only() -> None:
    hub = EventHub(FakeDirectory({7: 1}))
    async with hub.running():
        alice, bob, admin = hub.subscribe(ALICE), hub.subscribe(BOB), hub.subscribe(ADMIN)
        hub.publish(MessageAdded(7, message(7, "<b>help</b>")))
        got = await take(alice)
        assert (got.delivery.name, data(got)["text"]) == ("message", "<b>help</b>")
        assert (await take(admin)).event_id == got.event_id
        await nothing_for(bob)


async def test_owner_lookups_are_cached_and_follow_claims_and_transfers() -> None:
    directory = FakeDirectory({7: None})
    hub = EventHub(directory)
    async with hub.running():
        alice, bob = hub.subscribe(ALICE), hub.subscribe(BOB)
        hub.publish(MessageAdded(7, message(7)))
        hub.publish(MessageAdded(7, message(7)))
        hub.publish(ConversationClaimed(7, agent_id=1))
        assert (await take(alice)).delivery.name == "claimed"
        assert (await take(bob)).delivery.name == "claimed"
        hub.publish(DeliveryChanged(7, 5, "sent"))
        assert data(await take(alice))["status"] == "sent"
        hub.publish(ConversationChanged(7, owner_id=2))
        # The former owner is told it lost the conversation, the new one that it has it.
        assert (await take(alice)).delivery.name == "conversation"
        assert (await take(bob)).delivery.name == "conversation"
        hub.publish(MessageAdded(7, message(7)))
        assert (await take(bob)).delivery.name == "message"
        await nothing_for(alice)
        assert directory.lookups == [7]


async def test_a_handoff_goes_to_everyone_and_the_queue_count_follows() -> None:
    directory = FakeDirectory(waiting=1)
    hub = EventHub(directory)
    async with hub.running():
        alice, bob = hub.subscribe(ALICE), hub.subscribe(BOB)
        hub.publish(HandoffRequested(9))
        for subscription in (alice, bob):
            handoff = await take(subscription)
            assert (handoff.delivery.name, data(handoff)["id"]) == ("handoff", 9)
            queue = await take(subscription, queue=True)
            assert queue.delivery.name == "queue"
            assert data(queue) == {"count": 1, "oldest_wait_s": 12.5}
        # An unchanged count is not repeated.
        hub.publish(HandoffRequested(10))
        await take(alice)
        assert await alice.next(0.3) is None


async def test_a_reconnect_replays_what_was_missed_and_resyncs_when_it_cannot() -> None:
    hub = EventHub(FakeDirectory({7: 1}), replay_size=3)
    async with hub.running():
        first = hub.subscribe(ALICE)
        hub.publish(MessageAdded(7, message(7, "one")))
        seen = await take(first)
        hub.unsubscribe(first)
        hub.publish(MessageAdded(7, message(7, "two")))
        hub.publish(MessageAdded(8, message(8, "not hers")))
        await asyncio.sleep(0.05)
        again = hub.subscribe(ALICE, last_event_id=seen.event_id)
        assert data(await take(again))["text"] == "two"
        await nothing_for(again)
        # Ids of another process (or an old run), or older than the buffer: reload everything.
        assert (await take(hub.subscribe(ALICE, "other-3"))).delivery.name == "resync"
        for n in range(5):
            hub.publish(MessageAdded(7, message(7, str(n))))
        await asyncio.sleep(0.05)
        stale = hub.subscribe(ALICE, last_event_id=seen.event_id)
        assert (await take(stale)).delivery.name == "resync"


async def test_a_slow_subscriber_loses_its_oldest_events_not_the_others() -> None:
    hub = EventHub(FakeDirectory({7: 1}), subscriber_limit=4)
    async with hub.running():
        stuck, reading = hub.subscribe(ALICE), hub.subscribe(ALICE)
        received = []
        for n in range(10):
            hub.publish(MessageAdded(7, message(7, str(n))))
            received.append(data(await take(reading))["text"])
        assert received == [str(n) for n in range(10)]
        assert stuck.dropped == 6 and hub.stats.dropped == 6
        assert (await take(stuck)).delivery.name == "resync"
        await nothing_for(stuck)


async def test_publishing_never_blocks_even_without_a_running_hub() -> None:
    hub = EventHub()
    for n in range(30_000):
        hub.publish(MessageAdded(1, message(1, str(n)), owner_id=UNKNOWN))
    assert hub.stats.intake_dropped == 10_000


async def test_shutdown_ends_every_stream() -> None:
    hub = EventHub()
    async with hub.running():
        subscription = hub.subscribe(ALICE)
    with pytest.raises(EOFError):
        await subscription.next(1)
