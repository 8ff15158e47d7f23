"""The two loads the NLU-path benchmark compares: raw ``/model/parse`` calls and web chat customers.

Both run N concurrent workers, each asking its own fixed list of questions one after the other (a
closed loop), so both see the same concurrency and the same texts; the difference in throughput and
latency between them is what the gateway adds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.question_mix import questions_for

#: A reply slower than this is counted as lost and the customer moves on (keeps every loop bounded).
TURN_TIMEOUT_S = 15.0
_POST_TIMEOUT = aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)
# The reply stream is long-lived: only its connection gets a deadline, never the whole read.
_STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=None)


@dataclass
class RunResult:
    """What one load run measured: per-request latencies (s) and the wall time of the whole run."""

    latencies: list[float] = field(default_factory=list)
    wall_seconds: float = 0.0
    errors: int = 0
    # What came back: Rasa's top intent for parse calls, the reply's kind for web chat turns.
    labels: Counter[str] = field(default_factory=Counter)
    # Web chat only: time until the 202 (accept and store), lost replies and handoffs seen.
    accept_latencies: list[float] = field(default_factory=list)
    lost: int = 0
    handoffs: int = 0

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.wall_seconds if self.wall_seconds else 0.0


def _connector(workers: int) -> aiohttp.TCPConnector:
    """A pool big enough that no worker ever waits for a connection: that would be our queue."""
    return aiohttp.TCPConnector(limit=2 * workers + 4, keepalive_timeout=60)


# ------------------------------------------------------------------------------------- raw Rasa


async def parse_load(rasa_url: str, workers: int, per_worker: int) -> RunResult:
    """``workers`` concurrent clients each sending ``per_worker`` ``POST /model/parse`` in turn."""
    result = RunResult()
    async with aiohttp.ClientSession(connector=_connector(workers), timeout=_POST_TIMEOUT) as http:

        async def worker(index: int) -> None:
            for text in questions_for(index, per_worker):
                started = time.perf_counter()
                try:
                    async with http.post(f"{rasa_url}/model/parse", json={"text": text}) as reply:
                        body = await reply.read()
                        status = reply.status
                except (aiohttp.ClientError, TimeoutError):
                    result.errors += 1
                    continue
                elapsed = time.perf_counter() - started
                if status != 200:
                    result.errors += 1
                    continue
                result.latencies.append(elapsed)
                intent = (json.loads(body).get("intent") or {}).get("name")
                result.labels[str(intent)] += 1

        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for index in range(workers):
                group.create_task(worker(index))
        result.wall_seconds = time.perf_counter() - started
    return result


# ------------------------------------------------------------------------------------ web chat


class _ChatCustomer:
    """One web chat customer: a session, its reply stream read by a task that timestamps events.

    Stamping each event the moment its line arrives (rather than when the turn loop gets round to
    reading it) keeps the measured reply time free of the client's own scheduling delays.
    """

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self._http = http
        self._base = base_url
        self.session = ""
        self._stream: aiohttp.ClientResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self.events: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()

    async def open(self) -> None:
        async with self._http.post(f"{self._base}/chat/api/sessions") as response:
            response.raise_for_status()
            self.session = (await response.json())["session"]
        self._stream = await self._http.get(
            f"{self._base}/chat/api/stream",
            params={"session": self.session},
            timeout=_STREAM_TIMEOUT,
        )
        self._stream.raise_for_status()
        self._reader = asyncio.create_task(self._read(self._stream), name=f"sse-{self.session}")

    async def _read(self, stream: aiohttp.ClientResponse) -> None:
        """Queue every ``data:`` event with its arrival time until the stream ends."""
        with contextlib.suppress(aiohttp.ClientError, asyncio.CancelledError):
            async for line in stream.content:
                if line.startswith(b"data: "):
                    self.events.put_nowait((time.perf_counter(), json.loads(line[6:])))

    async def post(self, text: str, client_id: str) -> int:
        body = {"session": self.session, "text": text, "client_id": client_id}
        async with self._http.post(f"{self._base}/chat/api/messages", json=body) as response:
            await response.read()
            return response.status

    async def next_reply(self, wait_s: float) -> tuple[float, dict[str, Any]] | None:
        """The next outbound event and its arrival time, or None after ``wait_s`` seconds.

        A plain deadline rather than ``asyncio.timeout``: events that do not answer the turn are
        skipped without extending the wait. Those are the feedback requests ("was this helpful?"),
        notices with choices that follow an earlier answer; a notice without choices is the
        handoff notice, which does answer the turn (the bot goes silent after it).
        """
        deadline = time.perf_counter() + wait_s
        while (left := deadline - time.perf_counter()) > 0:
            try:
                arrived, event = await asyncio.wait_for(self.events.get(), left)
            except TimeoutError:
                return None
            if event.get("direction") != "out":
                continue
            if event.get("kind") == "notice" and event.get("choices"):
                continue
            return arrived, event
        return None

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._stream is not None:
            self._stream.close()


async def chat_load(base_url: str, customers: int, turns: int, *, tag: str = "c") -> RunResult:
    """``customers`` concurrent web chat customers, each asking ``turns`` questions in turn.

    A turn is timed from just before the POST to the arrival of the reply event. A customer whose
    conversation is handed off (a ``notice`` reply: the bot goes silent on purpose) or whose reply
    is lost continues in a fresh session, so one misclassified question cannot stall the run.
    """
    result = RunResult()
    async with aiohttp.ClientSession(
        connector=_connector(customers), timeout=_POST_TIMEOUT
    ) as http:

        async def customer(index: int) -> None:
            chat = _ChatCustomer(http, base_url)
            await chat.open()
            try:
                for turn, text in enumerate(questions_for(index, turns)):
                    started = time.perf_counter()
                    try:
                        status = await chat.post(text, f"{tag}{index}-{turn}")
                    except (aiohttp.ClientError, TimeoutError):
                        status = 0
                    accepted = time.perf_counter()
                    if status != 202:
                        result.errors += 1
                        continue
                    result.accept_latencies.append(accepted - started)
                    reply = await chat.next_reply(TURN_TIMEOUT_S)
                    if reply is not None:
                        arrived, event = reply
                        result.latencies.append(arrived - started)
                        result.labels[str(event.get("kind"))] += 1
                    if reply is None or reply[1].get("kind") == "notice":
                        result.lost += reply is None
                        result.handoffs += reply is not None
                        await chat.close()
                        chat = _ChatCustomer(http, base_url)
                        await chat.open()
            finally:
                await chat.close()

        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for index in range(customers):
                group.create_task(customer(index))
        result.wall_seconds = time.perf_counter() - started
    return result
