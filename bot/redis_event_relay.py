"""Relays live conversation events between gateway processes over Redis pub/sub.

Several gateway processes behind one load balancer share one database; an agent's stream is served
by one of them while the customer's message may arrive at another. Each process publishes the
deliveries it resolved on one Redis channel and delivers what the others published. Pub/sub is
fire-and-forget, which suits a live view: anything lost in a Redis outage is recovered by the
consoles reloading (the hub asks them to with ``resync`` once the subscription is back).

Sending never blocks the caller: deliveries wait in a bounded queue that one task writes to Redis
in pipelined batches; when Redis is away for long, the oldest are dropped and counted.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.event_hub import Delivery

log = logging.getLogger(__name__)

CHANNEL = "carebot:conversation-events"
SEND_LIMIT = 20_000
BATCH = 200
RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)


def channel_for(database_url: str) -> str:
    """The pub/sub channel of the gateways sharing one database: exactly the processes that must
    hear each other, while other deployments (or test runs) on the same Redis stay apart. Only a
    digest of the URL is used, so no password reaches Redis."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return f"{CHANNEL}:{digest}"


class RedisEventRelay:
    """An :class:`~bot.event_hub.EventRelay` over Redis pub/sub (``CAREBOT_REDIS_URL``)."""

    def __init__(self, url: str, *, channel: str = CHANNEL) -> None:
        self._url = url
        self._channel = channel
        self.origin = secrets.token_hex(8)
        self._outgoing: deque[str] = deque()
        self._wake = asyncio.Event()
        self.dropped = 0
        self.connected = asyncio.Event()

    def send(self, delivery: Delivery) -> None:
        if len(self._outgoing) >= SEND_LIMIT:
            self._outgoing.popleft()
            self.dropped += 1
        self._outgoing.append(json.dumps({"p": self.origin, **delivery.to_wire()}))
        self._wake.set()

    async def run(self, on_remote: Callable[[Delivery], None], on_gap: Callable[[], None]) -> None:
        client = redis.from_url(self._url)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._write_forever(client))
                group.create_task(self._read_forever(client, on_remote, on_gap))
        finally:
            await client.aclose()

    async def _write_forever(self, client: redis.Redis) -> None:
        failures = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outgoing:
                batch = [self._outgoing.popleft() for _ in range(min(BATCH, len(self._outgoing)))]
                try:
                    async with client.pipeline(transaction=False) as pipe:
                        for text in batch:
                            pipe.publish(self._channel, text)
                        await pipe.execute()
                    failures = 0
                except (RedisError, OSError) as exc:
                    self._outgoing.extendleft(reversed(batch))
                    failures += 1
                    log.warning("cannot publish live events to Redis (%s); retrying", exc)
                    await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S)) - 1])

    async def _read_forever(
        self,
        client: redis.Redis,
        on_remote: Callable[[Delivery], None],
        on_gap: Callable[[], None],
    ) -> None:
        failures = 0
        while True:
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    self.connected.set()
                    if failures:
                        log.info("live events: Redis subscription restored")
                        on_gap()
                    failures = 0
                    while True:
                        message = await pubsub.get_message(timeout=None)
                        if message is not None:
                            self._receive(message, on_remote)
            except (RedisError, OSError) as exc:
                self.connected.clear()
                failures += 1
                log.warning("live events: Redis subscription lost (%s); reconnecting", exc)
                await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S)) - 1])

    def _receive(self, message: dict[str, Any], on_remote: Callable[[Delivery], None]) -> None:
        if message.get("type") != "message":
            return
        try:
            wire = json.loads(message["data"])
            if wire.get("p") == self.origin:
                return  # our own, already delivered here
            delivery = Delivery.from_wire(wire)
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("live events: ignored a malformed message from Redis (%s)", exc)
            return
        try:
            on_remote(delivery)
        except Exception:  # a bug in delivering must not end the subscription
            log.exception("live events: delivering a relayed event failed")
