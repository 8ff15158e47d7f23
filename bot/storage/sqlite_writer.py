"""The SQLite writer thread: write transactions from the whole process, committed in groups.

SQLite allows one writer at a time, and on a busy gateway the cost of a write transaction is mostly
its COMMIT (appending the pages to the WAL), not its statements. So instead of one transaction per
call, the thread takes whatever calls are queued when it is free and runs them in one transaction,
each inside a SAVEPOINT of its own: a call that raises rolls back only its own changes (as it would
have alone), the others commit together, and every caller learns its result only once that COMMIT is
done — an acknowledged webhook is as durable as before, it just shares its commit with its
neighbours ("group commit", as PostgreSQL and InnoDB do it).

A group stops taking calls after :data:`MAX_GROUP` calls or :data:`MAX_GROUP_SECONDS` of work, so a
flood cannot hold one transaction open and delay every caller behind it; under light load a group is
a single call and nothing changes.

Results go back to the event loop in one ``call_soon_threadsafe`` per group, not one per call: each
cross-thread wake-up costs the loop a trip through its self-pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_GROUP = 128
MAX_GROUP_SECONDS = 0.010


@dataclass(slots=True)
class _Call:
    fn: Callable[[Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    result: Any = None
    error: BaseException | None = None


class SqliteWriterThread:
    """Runs write transactions on one connection of ``engine``, grouping the calls queued together.

    ``engine`` must be a sync engine whose connections begin with ``BEGIN IMMEDIATE`` (see
    :mod:`bot.storage.database`); it is used from this thread only, and disposed by it on close.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: deque[_Call] = deque()
        self._ready = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a write transaction; return once it is committed (raise if rolled back)."""
        loop = asyncio.get_running_loop()
        call = _Call(fn, loop.create_future(), loop)
        with self._ready:
            if self._closing:
                raise RuntimeError("the SQLite writer is closed")
            self._queue.append(call)
            self._ready.notify()
        result: T = await call.future
        return result

    async def close(self) -> None:
        """Finish the queued calls, stop the thread and dispose of the engine."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        await asyncio.to_thread(self._thread.join)

    # ------------------------------------------------------------------------------ the thread

    def _run(self) -> None:
        try:
            while True:
                with self._ready:
                    while not self._queue and not self._closing:
                        self._ready.wait()
                    if not self._queue:
                        return
                self._run_group()
        finally:
            self._engine.dispose()

    def _next_call(self) -> _Call | None:
        with self._ready:
            return self._queue.popleft() if self._queue else None

    def _run_group(self) -> None:
        group: list[_Call] = []
        try:
            with self._engine.connect() as connection:
                self._run_calls(connection, group)
        except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the group is stored
            log.error("SQLite write transaction of %d call(s) failed: %s", len(group), exc)
            for call in group:
                if call.error is None:
                    call.error, call.result = exc, None
        self._deliver(group)

    def _run_calls(self, connection: Connection, group: list[_Call]) -> None:
        """Run queued calls into ``group`` in one transaction and commit it.

        The first call runs bare: if it fails, the transaction holds nothing else and is simply
        rolled back (and a new one begun). Each later call runs inside a SAVEPOINT, issued on the
        driver's connection directly (SQLAlchemy's nested-transaction bookkeeping cost more than
        the statements), so that its failure undoes only its own changes.
        """
        driver = connection.connection.driver_connection
        assert driver is not None
        transaction = connection.begin()
        alone = True
        deadline = time.monotonic() + MAX_GROUP_SECONDS
        while len(group) < MAX_GROUP and (not group or time.monotonic() < deadline):
            call = self._next_call()
            if call is None:
                break
            group.append(call)
            if call.future.cancelled():
                continue  # its caller is gone; nobody would learn whether it committed
            if alone:
                try:
                    call.result = call.fn(connection)
                except BaseException as exc:
                    call.error = exc
                    transaction.rollback()
                    transaction = connection.begin()
                else:
                    alone = False
                continue
            driver.execute("SAVEPOINT call")
            try:
                call.result = call.fn(connection)
            except BaseException as exc:
                call.error = exc
                driver.execute("ROLLBACK TO call")
            driver.execute("RELEASE call")
        transaction.commit()

    @staticmethod
    def _deliver(group: list[_Call]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Call]] = {}
        for call in group:
            by_loop.setdefault(call.loop, []).append(call)
        for loop, calls in by_loop.items():
            # A closed loop raises RuntimeError: its callers are gone.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, calls)


def _settle(calls: list[_Call]) -> None:
    for call in calls:
        if call.future.done():
            continue
        if call.error is not None:
            call.future.set_exception(call.error)
        else:
            call.future.set_result(call.result)
