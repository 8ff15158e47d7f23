"""ConversationTasks: one drain at a time per conversation, wake-ups never lost, clean stops."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable

import pytest

from bot.conversation_tasks import ConversationTasks

pytestmark = pytest.mark.timeout(30)


async def within(awaitable: Awaitable[object]) -> None:
    """Await ``awaitable``, failing the test if it takes more than a few seconds."""
    await asyncio.wait_for(awaitable, 5)


class Queue:
    """Stored work per conversation and a drain over it that can be held half-way."""

    def __init__(self, *, fail_first: bool = False) -> None:
        self.stored: dict[int, list[str]] = {}
        self.handled: dict[int, list[str]] = {}
        self.calls: Counter[int] = Counter()
        self.looked = asyncio.Event()
        self.gate = asyncio.Event()
        self.fail_first = fail_first

    async def drain(self, conversation_id: int) -> None:
        self.calls[conversation_id] += 1
        batch = self.stored.pop(conversation_id, [])  # the drain's last look at the store...
        self.looked.set()
        await self.gate.wait()  # ...then it works for a while
        if self.fail_first and self.calls[conversation_id] == 1:
            self.stored.setdefault(conversation_id, [])[:0] = batch  # the work stays stored
            raise RuntimeError("database hiccup")
        self.handled.setdefault(conversation_id, []).extend(batch)


async def test_a_wake_during_a_drain_is_never_lost() -> None:
    queue = Queue()
    tasks = ConversationTasks(queue.drain, "test")
    queue.stored[1] = ["a"]
    tasks.wake(1)
    await within(queue.looked.wait())

    queue.stored.setdefault(1, []).append("b")  # stored after the drain looked
    tasks.wake(1)
    tasks.wake(1)
    queue.gate.set()
    await within(tasks.idle())

    assert queue.handled == {1: ["a", "b"]}
    assert queue.calls[1] == 2  # the two wake-ups made one more run, not two


async def test_a_wake_during_a_failing_drain_is_not_lost_either() -> None:
    queue = Queue(fail_first=True)
    tasks = ConversationTasks(queue.drain, "test")
    queue.stored[1] = ["a"]
    tasks.wake(1)
    await within(queue.looked.wait())

    queue.stored.setdefault(1, []).append("b")
    tasks.wake(1)
    queue.gate.set()
    await within(tasks.idle())

    assert queue.handled == {1: ["a", "b"]}
    assert queue.calls[1] == 2


async def test_a_failing_drain_is_left_for_the_sweep() -> None:
    queue = Queue(fail_first=True)
    queue.gate.set()
    tasks = ConversationTasks(queue.drain, "test")
    queue.stored[1] = ["a"]
    tasks.wake(1)
    await within(tasks.idle())

    assert queue.calls[1] == 1
    assert queue.stored[1] == ["a"]
    tasks.wake(1)  # what the periodic sweep does
    await within(tasks.idle())
    assert queue.handled == {1: ["a"]}


async def test_conversations_drain_in_parallel_each_one_serially() -> None:
    conversations = 5
    barrier = asyncio.Barrier(conversations)
    running: Counter[int] = Counter()
    most: Counter[int] = Counter()

    async def drain(conversation_id: int) -> None:
        running[conversation_id] += 1
        most[conversation_id] = max(most[conversation_id], running[conversation_id])
        try:
            await asyncio.wait_for(barrier.wait(), 5)  # all conversations at once, or time out
        finally:
            running[conversation_id] -= 1

    tasks = ConversationTasks(drain, "test")
    for _ in range(3):
        for conversation_id in range(conversations):
            tasks.wake(conversation_id)
    assert tasks.busy == conversations
    await within(tasks.idle())

    assert set(most.values()) == {1}


async def test_close_cancels_the_drains_and_ignores_later_wakes() -> None:
    queue = Queue()  # its gate never opens
    tasks = ConversationTasks(queue.drain, "test")
    tasks.wake(1)
    await within(queue.looked.wait())

    await within(tasks.close())
    tasks.wake(1)

    assert tasks.busy == 0
    assert queue.calls[1] == 1
    assert queue.handled == {}


async def test_close_lets_a_step_run_through_finish_end() -> None:
    started = asyncio.Event()
    events: list[str] = []

    async def record_sent() -> None:
        started.set()
        await asyncio.sleep(0.1)
        events.append("recorded")

    async def drain(conversation_id: int) -> None:
        await tasks.finish(record_sent())
        events.append("after the step")  # never reached: the drain itself is cancelled

    tasks = ConversationTasks(drain, "test")
    tasks.wake(1)
    await within(started.wait())
    await within(tasks.close())

    assert events == ["recorded"]


async def test_close_cancels_a_step_that_outlives_the_grace() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def hung_send() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def drain(conversation_id: int) -> None:
        await tasks.finish(hung_send())

    tasks = ConversationTasks(drain, "test", shutdown_grace=0.05)
    tasks.wake(1)
    await within(started.wait())
    await asyncio.wait_for(tasks.close(), 2)

    assert cancelled.is_set()
