"""The in-process hub that turns published conversation events into each agent's live stream.

Publishing only appends to an intake queue; one dispatcher task resolves each event (who owns the
conversation, the Conversation object of a new handoff, the waiting count) into a
:class:`Delivery` — a named JSON payload with its audience — and hands it to every subscriber that
may see it. Per-process sequence numbers and a short ring buffer let a reconnecting stream replay
what it missed. Each subscriber has its own bounded buffer: a console that does not keep up loses
its oldest events (counted) and is told to reload (``resync``) instead of slowing anyone else.

With a :class:`EventRelay` (Redis pub/sub across gateway processes), resolved deliveries are
relayed to the other processes, which deliver them to their own subscribers as if they were local;
each process resolves only the events published in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.conversation_events import (
    UNKNOWN,
    ConversationChanged,
    ConversationClaimed,
    ConversationEvent,
    DeliveryChanged,
    HandoffRequested,
    MessageAdded,
    Owner,
    QueueChanged,
)

log = logging.getLogger(__name__)

REPLAY_SIZE = 4096
SUBSCRIBER_LIMIT = 512
INTAKE_LIMIT = 20_000
OWNER_CACHE_SIZE = 50_000
QUEUE_REFRESH_DELAY_S = 0.05


class EventDirectory(Protocol):
    """What the hub reads from storage to resolve events (implemented over the desk's store)."""

    async def owner_of(self, conversation_id: int) -> int | None:
        """The agent who owns the conversation now, or None."""
        ...

    async def conversation(self, conversation_id: int) -> Mapping[str, Any] | None:
        """The API's ``Conversation`` object, or None when there is no such conversation."""
        ...

    async def queue_stats(self) -> tuple[int, float | None]:
        """How many conversations wait, and the longest wait in seconds (None when none)."""
        ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """A resolved event: its SSE name, its JSON data (serialised once), and who may see it.

    Attributes:
        everyone: every agent and admin sees it (queue, handoff, claimed).
        agents: otherwise, the agents who see it (admins always do).
        owner_update: ``(conversation_id, owner)`` so every process's owner cache stays right.
    """

    name: str
    data_json: str
    everyone: bool
    agents: frozenset[int] = frozenset()
    owner_update: tuple[int, int | None] | None = None

    @classmethod
    def of(
        cls,
        name: str,
        data: Mapping[str, Any],
        *,
        everyone: bool = False,
        agents: frozenset[int] = frozenset(),
        owner_update: tuple[int, int | None] | None = None,
    ) -> Delivery:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
        return cls(name, text, everyone, agents, owner_update)

    def visible_to(self, viewer: Viewer) -> bool:
        return self.everyone or viewer.is_admin or viewer.agent_id in self.agents

    def to_wire(self) -> dict[str, Any]:
        return {
            "n": self.name,
            "d": self.data_json,
            "e": self.everyone,
            "a": sorted(self.agents),
            "o": list(self.owner_update) if self.owner_update else None,
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Delivery:
        """The inverse of :meth:`to_wire`; raises ValueError on anything malformed."""
        try:
            owner = wire["o"]
            update = None if owner is None else (int(owner[0]), _opt_int(owner[1]))
            return cls(
                str(wire["n"]),
                str(wire["d"]),
                bool(wire["e"]),
                frozenset(int(a) for a in wire["a"]),
                update,
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"malformed relayed event: {exc!r}") from None


def _opt_int(value: object) -> int | None:
    return None if value is None else int(str(value))


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads a stream: an agent, or an admin (``agent_id`` None for the admin token)."""

    agent_id: int | None
    is_admin: bool = False


RESYNC = "resync"


@dataclass(frozen=True, slots=True)
class StreamItem:
    """One event for one stream: its SSE id (``<epoch>-<seq>``) and the delivery."""

    event_id: str
    delivery: Delivery


class Subscription:
    """One open stream's bounded buffer. Overflow drops the oldest item and asks for a resync."""

    def __init__(self, hub: EventHub, viewer: Viewer, limit: int) -> None:
        self.viewer = viewer
        self.dropped = 0
        self._hub = hub
        self._items: deque[StreamItem] = deque()
        self._limit = limit
        self._ready = asyncio.Event()
        self._closed = False
        self._resync_pending = False

    def push(self, item: StreamItem) -> None:
        if len(self._items) >= self._limit:
            self._items.popleft()
            self.dropped += 1
            self._hub.stats.dropped += 1
            self._resync_pending = True
        self._items.append(item)
        self._ready.set()

    def request_resync(self) -> None:
        self._resync_pending = True
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    @property
    def closed(self) -> bool:
        return self._closed

    def take_ready(self, limit: int = 64) -> list[StreamItem]:
        """What is already buffered (up to ``limit``), without waiting: one write for a burst."""
        if self._closed or self._resync_pending:
            return []
        return [self._items.popleft() for _ in range(min(limit, len(self._items)))]

    async def next(self, idle_s: float) -> StreamItem | None:
        """The next item; None after ``idle_s`` seconds with nothing (time for a ping).

        Raises:
            EOFError: the hub closed the subscription (shutdown).
        """
        while True:
            if self._closed:
                raise EOFError("event hub closed")
            if self._resync_pending:
                self._resync_pending = False
                self._items.clear()
                return self._hub.resync_item()
            if self._items:
                return self._items.popleft()
            self._ready.clear()
            try:
                async with asyncio.timeout(idle_s):
                    await self._ready.wait()
            except TimeoutError:
                return None


class EventRelay(Protocol):
    """Carries resolved deliveries to the hubs of the other gateway processes."""

    def send(self, delivery: Delivery) -> None:
        """Queue ``delivery`` for the other processes; must not block."""
        ...

    async def run(self, on_remote: Callable[[Delivery], None], on_gap: Callable[[], None]) -> None:
        """Relay until cancelled, calling ``on_remote`` for each delivery another process sent
        and ``on_gap`` when some may have been lost (a reconnect)."""
        ...


@dataclass
class HubStats:
    published: int = 0
    delivered: int = 0
    dropped: int = 0  # items a slow subscriber lost
    intake_dropped: int = 0  # events lost before resolution (the dispatcher was far behind)
    remote: int = 0


@dataclass
class _OwnerCache:
    size: int
    entries: OrderedDict[int, int | None] = field(default_factory=OrderedDict)

    def get(self, conversation_id: int) -> Owner:
        if conversation_id not in self.entries:
            return UNKNOWN
        self.entries.move_to_end(conversation_id)
        return self.entries[conversation_id]

    def set(self, conversation_id: int, owner: int | None) -> None:
        self.entries[conversation_id] = owner
        self.entries.move_to_end(conversation_id)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


class EventHub:
    """Publish events in, per-agent filtered streams out (see the module docstring)."""

    def __init__(
        self,
        directory: EventDirectory | None = None,
        *,
        relay: EventRelay | None = None,
        replay_size: int = REPLAY_SIZE,
        subscriber_limit: int = SUBSCRIBER_LIMIT,
    ) -> None:
        self.directory = directory
        self.epoch = secrets.token_hex(4)
        self.stats = HubStats()
        self._relay = relay
        self._subscriber_limit = subscriber_limit
        self._subscribers: set[Subscription] = set()
        self._replay: deque[tuple[int, Delivery]] = deque(maxlen=replay_size)
        self._seq = 0
        self._intake: deque[ConversationEvent] = deque()
        self._intake_ready = asyncio.Event()
        self._owners = _OwnerCache(OWNER_CACHE_SIZE)
        self._queue_count: int | None = None
        self._queue_refresh: asyncio.Task[None] | None = None

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, event: ConversationEvent) -> None:
        """Take an event for resolution and delivery; never blocks, never raises."""
        if len(self._intake) >= INTAKE_LIMIT:
            self.stats.intake_dropped += 1
            return
        self.stats.published += 1
        self._intake.append(event)
        self._intake_ready.set()

    # -- subscribing -----------------------------------------------------------------------------

    def subscribe(self, viewer: Viewer, last_event_id: str | None = None) -> Subscription:
        """A new stream for ``viewer``; with ``last_event_id``, first what it missed since.

        When the missed events cannot be replayed (another process's id, fell out of the ring
        buffer), the stream starts with a ``resync`` item: the console reloads what it shows.
        """
        subscription = Subscription(self, viewer, self._subscriber_limit)
        if last_event_id:
            missed = self._missed_since(last_event_id)
            if missed is None:
                subscription.request_resync()
            else:
                for seq, delivery in missed:
                    if delivery.visible_to(viewer):
                        subscription.push(StreamItem(self._event_id(seq), delivery))
        self._subscribers.add(subscription)
        return subscription

    def close_subscriptions(self) -> None:
        """End every open stream now (the web server is shutting down and waits for them)."""
        for subscription in list(self._subscribers):
            subscription.close()
        self._subscribers.clear()

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def resync_item(self) -> StreamItem:
        return StreamItem(self._event_id(self._seq), Delivery.of(RESYNC, {}, everyone=True))

    def _missed_since(self, last_event_id: str) -> list[tuple[int, Delivery]] | None:
        epoch, _, raw_seq = last_event_id.partition("-")
        if epoch != self.epoch or not raw_seq.isdigit() or len(raw_seq) > 18:
            return None
        seq = int(raw_seq)
        if seq > self._seq:
            return None
        oldest = self._replay[0][0] if self._replay else self._seq + 1
        if seq + 1 < oldest:
            return None  # some of what it missed has left the buffer
        return [(s, d) for s, d in self._replay if s > seq]

    def _event_id(self, seq: int) -> str:
        return f"{self.epoch}-{seq}"

    # -- running -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[EventHub]:
        """Dispatch (and relay) while inside; on exit, stop and end every open stream."""
        tasks = [asyncio.create_task(self._dispatch_forever(), name="event-hub")]
        if self._relay is not None:
            tasks.append(
                asyncio.create_task(
                    self._relay.run(self._deliver_remote, self._resync_all), name="event-relay"
                )
            )
        try:
            yield self
        finally:
            for task in [*tasks, self._queue_refresh]:
                if task is not None:
                    task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.close_subscriptions()

    async def _dispatch_forever(self) -> None:
        while True:
            await self._intake_ready.wait()
            while self._intake:
                event = self._intake.popleft()
                try:
                    delivery = await self._resolve(event)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a storage hiccup must not stop the live stream
                    log.exception("could not resolve %s", type(event).__name__)
                    continue
                self._deliver(delivery, relay=True)
            self._intake_ready.clear()

    async def _resolve(self, event: ConversationEvent) -> Delivery:
        match event:
            case MessageAdded(conversation_id, message, owner):
                owner = await self._owner(conversation_id, owner)
                return Delivery.of("message", message, agents=_agents(owner))
            case DeliveryChanged(conversation_id, message_id, status, error_code, owner):
                owner = await self._owner(conversation_id, owner)
                status_data = {
                    "id": message_id,
                    "conversation_id": conversation_id,
                    "status": status,
                    "error_code": error_code,
                }
                return Delivery.of("message_status", status_data, agents=_agents(owner))
            case HandoffRequested(conversation_id, conversation):
                self._owners.set(conversation_id, None)
                self._refresh_queue_soon()
                data = conversation or await self._conversation(conversation_id)
                return Delivery.of(
                    "handoff", data, everyone=True, owner_update=(conversation_id, None)
                )
            case ConversationClaimed(conversation_id, agent_id):
                self._owners.set(conversation_id, agent_id)
                self._refresh_queue_soon()
                claim = {"conversation_id": conversation_id, "agent_id": agent_id}
                return Delivery.of(
                    "claimed", claim, everyone=True, owner_update=(conversation_id, agent_id)
                )
            case ConversationChanged(conversation_id, owner_id, conversation, previous):
                if previous is UNKNOWN:
                    previous = self._owners.get(conversation_id)
                self._owners.set(conversation_id, owner_id)
                self._refresh_queue_soon()
                data = conversation or await self._conversation(conversation_id)
                audience = _agents(owner_id) | (
                    _agents(previous) if previous is not UNKNOWN else frozenset()
                )
                return Delivery.of(
                    "conversation", data, agents=audience, owner_update=(conversation_id, owner_id)
                )
            case QueueChanged(count, oldest):
                self._queue_count = count
                return Delivery.of(
                    "queue", {"count": count, "oldest_wait_s": oldest}, everyone=True
                )

    async def _owner(self, conversation_id: int, given: Owner) -> int | None:
        if given is not UNKNOWN:
            return given
        cached = self._owners.get(conversation_id)
        if cached is not UNKNOWN:
            return cached
        owner = None if self.directory is None else await self.directory.owner_of(conversation_id)
        self._owners.set(conversation_id, owner)
        return owner

    async def _conversation(self, conversation_id: int) -> Mapping[str, Any]:
        found = None
        if self.directory is not None:
            found = await self.directory.conversation(conversation_id)
        return found if found is not None else {"id": conversation_id}

    def _refresh_queue_soon(self) -> None:
        """Re-count the queue shortly (coalescing bursts), and tell everyone if it changed."""
        if self.directory is None or (
            self._queue_refresh is not None and not self._queue_refresh.done()
        ):
            return
        self._queue_refresh = asyncio.get_running_loop().create_task(self._refresh_queue())

    async def _refresh_queue(self) -> None:
        await asyncio.sleep(QUEUE_REFRESH_DELAY_S)
        assert self.directory is not None
        try:
            count, oldest = await self.directory.queue_stats()
        except Exception:
            log.exception("could not count the waiting conversations")
            return
        if count != self._queue_count:
            self.publish(QueueChanged(count, oldest))

    # -- delivering ----------------------------------------------------------------------------

    def _deliver(self, delivery: Delivery, *, relay: bool) -> None:
        self._seq += 1
        self._replay.append((self._seq, delivery))
        item = StreamItem(self._event_id(self._seq), delivery)
        for subscription in self._subscribers:
            if delivery.visible_to(subscription.viewer):
                subscription.push(item)
                self.stats.delivered += 1
        if relay and self._relay is not None:
            self._relay.send(delivery)

    def _deliver_remote(self, delivery: Delivery) -> None:
        """A delivery resolved by another process: keep the caches right, then deliver here."""
        self.stats.remote += 1
        self._note(delivery)
        self._deliver(delivery, relay=False)

    def _note(self, delivery: Delivery) -> None:
        """Learn owners and the waiting count from a delivery this hub did not resolve itself."""
        if delivery.owner_update is not None:
            conversation_id, owner = delivery.owner_update
            self._owners.set(conversation_id, owner)
        if delivery.name == "queue":
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self._queue_count = int(json.loads(delivery.data_json)["count"])

    def _resync_all(self) -> None:
        """Events from other processes may have been lost: every console reloads, caches reset."""
        self._owners.entries.clear()
        self._queue_count = None
        for subscription in self._subscribers:
            subscription.request_resync()


def _agents(owner: Owner) -> frozenset[int]:
    return frozenset((owner,)) if isinstance(owner, int) else frozenset()
