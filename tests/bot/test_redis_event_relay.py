"""Two event hubs (two gateway processes) joined by the real Redis at 127.0.0.1:6379."""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import AsyncExitStack

import pytest
import redis.asyncio as redis

from bot.conversation_events import ConversationClaimed, HandoffRequested, MessageAdded
from bot.event_hub import EventHub, Viewer
from bot.redis_event_relay import RedisEventRelay

pytestmark = pytest.mark.timeout(30)

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def redis_available() -> None:
    client = redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (redis.ConnectionError, OSError):
        pytest.fail("Redis is not running at 127.0.0.1:6379 (.ci/run starts it)", pytrace=False)
    finally:
        await client.aclose()


async def test_every_process_sees_every_event(redis_available: None) -> None:
    channel = f"carebot-test:{uuid.uuid4().hex}"  # parallel runs never hear each other
    relays = [RedisEventRelay(REDIS_URL, channel=channel) for _ in range(2)]
    hubs = [EventHub(relay=relay) for relay in relays]
    async with AsyncExitStack() as stack:
        for hub in hubs:
            await stack.enter_async_context(hub.running())
        for relay in relays:
            await asyncio.wait_for(relay.connected.wait(), 5)
        here, there = hubs
        alice_there = there.subscribe(Viewer(1))
        bob_here = here.subscribe(Viewer(2))
        alice_here = here.subscribe(Viewer(1))

        here.publish(HandoffRequested(5, {"id": 5, "state": "waiting"}))
        item = await alice_there.next(5)
        assert item is not None and item.delivery.name == "handoff"
        assert json.loads(item.delivery.data_json)["id"] == 5
        assert (await alice_here.next(5)) is not None
        assert (await bob_here.next(5)) is not None

        # A claim made in one process decides who sees a message published in the other.
        there.publish(ConversationClaimed(5, agent_id=2))
        for subscription in (bob_here, alice_here, alice_there):
            claimed = await subscription.next(5)
            assert claimed is not None and claimed.delivery.name == "claimed"
        here.publish(MessageAdded(5, {"id": 9, "text": "for bob"}))
        message = await bob_here.next(5)
        assert message is not None and message.delivery.name == "message"
        assert await alice_here.next(0.3) is None
        assert await alice_there.next(0.3) is None
        # Each hub delivered its own events once: no echo from Redis.
        assert here.stats.remote == 1 and there.stats.remote == 2
