"""Live-update latency of the agent console under load: many agents on the event stream, many
customer messages flowing into their conversations.

What it does, against a real ``carebot serve`` process (SQLite in a temporary directory):

1. creates ``--agents`` agents with API tokens in the gateway's database, then starts the gateway;
2. opens one ``GET /api/v1/events`` stream per agent;
3. opens ``--conversations`` web chat conversations that ask for a person (``/human``, no NLU
   involved) and has the agents claim them round-robin;
4. posts customer messages into those conversations at ``--rate`` per second for ``--duration``
   seconds, each carrying a sequence number, and times each from just before its POST to its
   arrival as a ``message`` event in its owner's stream.

It prints p50/p99 of that delay (target: p99 under 1 s), how many messages reached their agent,
and the gateway's CPU (share of one core) and memory. Rasa is not needed: a conversation owned by
an agent never reaches the NLU.

    .venv/bin/python bench/console.py [--agents 50] [--rate 200] [--duration 15] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.command_main import run_command  # noqa: E402
from bench.gateway_process import GatewayProcess, GatewayStartError  # noqa: E402
from bench.nlu_path import (  # noqa: E402
    EXIT_GATEWAY,
    EXIT_USAGE,
    BenchError,
    _bounded_int,
    _fmt,
    _progress,
)
from bench.process_stats import Latencies, ProcessSampler  # noqa: E402
from nlu.rasa_server import free_port  # noqa: E402

TARGET_P99_MS = 1000.0
_MARKER = re.compile(r"bench-(\d+)")


@dataclass(frozen=True, slots=True)
class Report:
    agents: int
    conversations: int
    rate: float
    duration_s: float
    sent: int
    accepted: int
    delivered: int
    stray: int  # message events an agent got for a conversation it does not own
    delay: Latencies
    post_ms: Latencies
    gateway_cpu_percent: float | None
    gateway_peak_rss_mb: float | None
    p99_met: bool | None


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    from bench.nlu_path import _OneLineParser

    parser = _OneLineParser(
        prog="bench/console.py", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--agents", type=_bounded_int(1, 500), default=50, help="default 50")
    parser.add_argument(
        "--conversations", type=_bounded_int(1, 5000), default=100, help="default 100"
    )
    parser.add_argument(
        "--rate", type=_bounded_int(1, 2000), default=200, help="messages/s, default 200"
    )
    parser.add_argument(
        "--duration", type=_bounded_int(1, 600), default=15, help="seconds, default 15"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    return parser.parse_args(argv)


async def _create_agents(database_url: str, count: int) -> list[tuple[int, str]]:
    """Agents with API tokens, written before the gateway starts (what ``carebot agents`` does)."""
    from bot.storage.database import Database, upgrade
    from handoff.agent_store import SqlAgentStore

    await upgrade(database_url)
    database = Database.connect(database_url)
    try:
        store = SqlAgentStore(database)
        agents = await asyncio.gather(
            *(
                store.add_agent(f"agent{n:03d}", f"bench-password-{n}", languages=["en", "it"])
                for n in range(count)
            )
        )
        tokens = []
        for agent in agents:
            tokens.append((agent.id, (await store.issue_token(agent)).token))
        return tokens
    finally:
        await database.dispose()


class AgentStream:
    """One agent's event stream: records when each bench message arrives."""

    def __init__(
        self, agent_id: int, owned: set[int], arrivals: dict[int, float], arrived: asyncio.Event
    ) -> None:
        self.agent_id = agent_id
        self.owned = owned
        self.arrivals = arrivals
        self.arrived = arrived
        self.stray = 0
        self.ready = asyncio.Event()

    async def run(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{url}/api/v1/events", headers=headers) as response:
            if response.status != 200:
                raise BenchError(f"event stream answered {response.status}", EXIT_GATEWAY)
            self.ready.set()
            name = ""
            async for raw in response.content:
                line = raw.rstrip(b"\n")
                if line.startswith(b"event: "):
                    name = line[7:].decode()
                elif line.startswith(b"data: ") and name == "message":
                    self._message(json.loads(line[6:]))

    def _message(self, data: dict[str, object]) -> None:
        if data.get("direction") != "in":
            return
        match = _MARKER.search(str(data.get("text", "")))
        if match is None:
            return
        if data.get("conversation_id") not in self.owned:
            self.stray += 1
        self.arrivals.setdefault(int(match.group(1)), time.perf_counter())
        self.arrived.set()


async def _start_conversations(
    http: aiohttp.ClientSession, url: str, count: int, tokens: list[tuple[int, str]]
) -> tuple[list[str], dict[int, set[int]]]:
    """``count`` web chat sessions handed off and claimed round-robin; returns the sessions and
    each agent's conversation ids."""
    sessions = []
    for _ in range(count):
        async with http.post(f"{url}/chat/api/sessions") as response:
            sessions.append((await response.json())["session"])
    for session in sessions:
        await _post_chat(http, url, session, "/human")
    reader_headers = {"Authorization": f"Bearer {tokens[0][1]}"}
    waiting: list[int] = []
    deadline = time.monotonic() + 60
    while len(waiting) < count:
        if time.monotonic() > deadline:
            raise BenchError(
                f"only {len(waiting)} of {count} handoffs reached the queue", EXIT_GATEWAY
            )
        await asyncio.sleep(0.2)
        async with http.get(f"{url}/api/v1/queue", headers=reader_headers) as response:
            waiting = [c["id"] for c in (await response.json())["waiting"]]
    owned: dict[int, set[int]] = {agent_id: set() for agent_id, _ in tokens}
    for n, conversation_id in enumerate(sorted(waiting)):
        agent_id, token = tokens[n % len(tokens)]
        async with http.post(
            f"{url}/api/v1/conversations/{conversation_id}/claim",
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            if response.status != 200:
                raise BenchError(f"claim answered {response.status}", EXIT_GATEWAY)
        owned[agent_id].add(conversation_id)
    return sessions, owned


async def _post_chat(http: aiohttp.ClientSession, url: str, session: str, text: str) -> bool:
    async with http.post(
        f"{url}/chat/api/messages", json={"session": session, "text": text}
    ) as response:
        return response.status == 202


async def run(args: argparse.Namespace) -> Report:
    async with AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="carebot-bench-")))
        database_url = f"sqlite+aiosqlite:///{workdir / 'carebot.db'}"
        _progress(f"creating {args.agents} agents")
        tokens = await _create_agents(database_url, args.agents)
        # No Rasa: agent-owned conversations never reach the NLU, and /human is a command.
        gateway = GatewayProcess(
            rasa_url=f"http://127.0.0.1:{free_port()}", database_url=database_url, workdir=workdir
        )
        try:
            await stack.enter_async_context(gateway)
        except GatewayStartError as exc:
            raise BenchError(str(exc), EXIT_USAGE) from None
        _progress(f"gateway pid {gateway.pid} on {gateway.url}")
        connector = aiohttp.TCPConnector(limit=args.agents + 128)
        http = await stack.enter_async_context(
            aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
        )
        sessions, owned = await _start_conversations(http, gateway.url, args.conversations, tokens)
        _progress(f"{len(sessions)} conversations claimed by {args.agents} agents")

        arrivals: dict[int, float] = {}
        arrived = asyncio.Event()
        streams = [
            AgentStream(agent_id, owned[agent_id], arrivals, arrived) for agent_id, _ in tokens
        ]
        readers = [
            asyncio.create_task(stream.run(http, gateway.url, token))
            for stream, (_, token) in zip(streams, tokens, strict=True)
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in streams)), 30)
            _progress(f"{len(streams)} event streams open; {args.rate} messages/s")
            sampler = ProcessSampler(gateway.pid)
            sampler.start()
            before = sampler.sample()
            started = time.perf_counter()
            sent_at, post_times, accepted = await _offer_load(
                http, gateway.url, sessions, args.rate, args.duration
            )
            await _wait_for_arrivals(arrivals, arrived, len(sent_at), seconds=5.0)
            after = sampler.sample()
            wall = time.perf_counter() - started
            await sampler.stop()
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
        delays = [arrivals[n] - t for n, t in sent_at.items() if n in arrivals]
        cpu = None
        if before is not None and after is not None:
            cpu = (after.cpu_seconds - before.cpu_seconds) / wall * 100
        delay = Latencies.of(delays)
        return Report(
            agents=args.agents,
            conversations=len(sessions),
            rate=float(args.rate),
            duration_s=float(args.duration),
            sent=len(sent_at),
            accepted=accepted,
            delivered=len(delays),
            stray=sum(s.stray for s in streams),
            delay=delay,
            post_ms=Latencies.of(post_times),
            gateway_cpu_percent=cpu,
            gateway_peak_rss_mb=sampler.peak_rss_bytes / 2**20 if sampler.peak_rss_bytes else None,
            p99_met=None if delay.p99_ms is None else delay.p99_ms < TARGET_P99_MS,
        )


async def _offer_load(
    http: aiohttp.ClientSession, url: str, sessions: list[str], rate: int, duration: int
) -> tuple[dict[int, float], list[float], int]:
    """Post ``rate`` messages a second, round-robin over the sessions, on a fixed schedule."""
    sent_at: dict[int, float] = {}
    post_times: list[float] = []
    accepted = 0
    tasks: set[asyncio.Task[None]] = set()

    async def post(n: int) -> None:
        nonlocal accepted
        session = sessions[n % len(sessions)]
        start = time.perf_counter()
        sent_at[n] = start
        if await _post_chat(http, url, session, f"still waiting for my order bench-{n}"):
            accepted += 1
        post_times.append(time.perf_counter() - start)

    begin = time.perf_counter()
    for n in range(rate * duration):
        delay = begin + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(post(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    return sent_at, post_times, accepted


async def _wait_for_arrivals(
    arrivals: dict[int, float], arrived: asyncio.Event, count: int, *, seconds: float
) -> None:
    """Until every message arrived, or ``seconds`` passed (the stragglers count as lost)."""
    try:
        async with asyncio.timeout(seconds):
            while len(arrivals) < count:
                arrived.clear()
                await arrived.wait()
    except TimeoutError:
        return


def render_table(report: Report) -> str:
    verdict = {True: "ok", False: "MISSED", None: "n/a"}[report.p99_met]
    return "\n".join(
        [
            f"agents on the event stream    {report.agents}",
            f"agent-owned conversations     {report.conversations}",
            f"offered                       {report.rate:.0f} messages/s for "
            f"{report.duration_s:.0f} s ({report.sent} messages, {report.accepted} accepted)",
            f"reached their agent's stream  {report.delivered} of {report.sent}"
            f" (to another agent: {report.stray})",
            f"message -> agent stream       p50 {_fmt(report.delay.p50_ms)} ms,"
            f" p99 {_fmt(report.delay.p99_ms)} ms (target p99 < {TARGET_P99_MS:.0f} ms: {verdict})",
            f"POST /chat/api/messages       p50 {_fmt(report.post_ms.p50_ms)} ms,"
            f" p99 {_fmt(report.post_ms.p99_ms)} ms",
            f"gateway CPU                   {_fmt(report.gateway_cpu_percent)} % of one core",
            f"gateway peak RSS              {_fmt(report.gateway_peak_rss_mb)} MB",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("console", parse_arguments(argv), run, render_table)


if __name__ == "__main__":
    sys.exit(main())
