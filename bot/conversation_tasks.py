"""Serial work per conversation, parallel across conversations.

Both the inbox worker and the outbox sender need the same discipline: one task drains one
conversation's queue in order, any number of conversations progress at once, and a wake-up that
arrives while a conversation is being drained is never lost. That discipline lives here once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long :meth:`ConversationTasks.close` lets steps run through :meth:`~ConversationTasks.finish`
# complete before cancelling them too.
SHUTDOWN_GRACE_SECONDS = 10.0


class ConversationTasks:
    """Runs ``drain(conversation_id)`` at most once at a time per conversation.

    ``wake(id)`` while a drain of ``id`` runs makes it run again when it finishes (even when it
    failed), so work stored between the drain's last look and its end is still picked up.
    """

    def __init__(
        self,
        drain: Callable[[int], Awaitable[None]],
        name: str,
        *,
        shutdown_grace: float = SHUTDOWN_GRACE_SECONDS,
    ) -> None:
        self._drain = drain
        self._name = name
        self._shutdown_grace = shutdown_grace
        self._running: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()
        self._finishing: set[asyncio.Future[Any]] = set()
        self._closed = False

    def wake(self, conversation_id: int) -> bool:
        """Drain ``conversation_id`` now, or again after the running drain; True if started now."""
        if self._closed:
            return False
        if conversation_id in self._running:
            self._again.add(conversation_id)
            return False
        task = asyncio.create_task(
            self._run(conversation_id), name=f"{self._name}-{conversation_id}"
        )
        self._running[conversation_id] = task
        return True

    def active(self, conversation_id: int) -> bool:
        """True while a drain of ``conversation_id`` runs (or is about to start)."""
        return conversation_id in self._running

    async def _run(self, conversation_id: int) -> None:
        try:
            while True:
                self._again.discard(conversation_id)
                try:
                    await self._drain(conversation_id)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The work stays stored: a wake that came meanwhile drains again right away,
                    # otherwise the periodic sweep wakes this conversation later.
                    log.exception(
                        "%s: draining conversation %s failed", self._name, conversation_id
                    )
                if conversation_id not in self._again or self._closed:
                    return
        finally:
            self._running.pop(conversation_id, None)

    async def finish(self, step: Awaitable[T]) -> T:
        """Await ``step`` so that cancelling the drain does not cut it in half.

        For steps whose interruption would cost more than waiting for them: recording that a
        platform accepted a message (else it is sent again after a restart), committing an outcome.
        :meth:`close` cancels the drain at once but lets such a step end, within the grace period.
        """
        future = asyncio.ensure_future(step)
        self._finishing.add(future)
        future.add_done_callback(self._finishing.discard)
        return await asyncio.shield(future)

    @property
    def busy(self) -> int:
        return len(self._running)

    async def close(self) -> None:
        """Cancel the running drains; their work stays stored and resumes at the next start."""
        self._closed = True
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        finishing = list(self._finishing)
        if finishing:
            _, late = await asyncio.wait(finishing, timeout=self._shutdown_grace)
            for future in late:
                log.warning("%s: a step did not finish within the shutdown grace", self._name)
                future.cancel()
            await asyncio.gather(*finishing, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until no drain runs (tests and graceful shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)


async def sweep_forever(sweep: Callable[[], Awaitable[object]], interval: float, name: str) -> None:
    """Call ``sweep`` now and every ``interval`` seconds until cancelled.

    The sweep is the recovery path (work stored before a restart, retries due, other processes'
    leftovers), so one failure is logged and retried at the next interval, never fatal.
    """
    while True:
        try:
            await sweep()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s sweep failed; retrying", name)
        await asyncio.sleep(interval)
