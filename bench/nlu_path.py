"""How much the gateway costs on top of Rasa: web chat turns against raw ``/model/parse`` calls.

Usage::

    .venv/bin/python bench/nlu_path.py [--customers N] [--turns-per-customer M]
                                       [--rasa-url URL] [--database-url URL] [--json]

Rasa's parse is the floor of a bot turn: no gateway can answer faster than the NLU it waits for. So
the benchmark measures that floor first (N concurrent clients, the same questions) and then the
whole path through a real ``carebot serve`` process (N web chat customers, each waiting for the
reply before asking again), in the same run on the same machine, and reports the gateway as a
ratio of and a difference from the floor. Absolute numbers change from machine to machine; the
ratio and the difference say what the gateway's design costs.

It reports and never asserts: exit code 0 whatever the figures, 2 on bad arguments or when Rasa
cannot be started, 1 when the gateway itself does not start.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

# Run as a script (``python bench/nlu_path.py``), Python puts bench/ first on the path; the
# repository root must come before the installed packages so this checkout is what gets measured.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.command_main import run_command  # noqa: E402
from bench.gateway_process import GatewayProcess, GatewayStartError  # noqa: E402
from bench.load_drivers import RunResult, chat_load, parse_load  # noqa: E402
from bench.process_stats import Latencies, ProcessSampler  # noqa: E402
from nlu.rasa_client import RasaNluClient  # noqa: E402
from nlu.rasa_server import RasaServer, RasaServerError  # noqa: E402
from nlu.training import RasaEnvironmentMissing, TrainingFailed, ensure_trained  # noqa: E402

EXIT_USAGE = 2
EXIT_GATEWAY = 1
EXIT_INTERRUPTED = 130

TARGET_RATIO = 0.8
TARGET_ADDED_P50_MS = 5.0
TARGET_PEAK_RSS_MB = 250.0

MAX_CUSTOMERS = 256
MAX_TURNS = 10_000
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_WARMUP_TURNS = 4


class BenchError(Exception):
    """A one-line reason the benchmark cannot run, with the exit code to leave with."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------------------------ arguments


class _OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage block), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _bounded_int(low: int, high: int) -> Any:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


def _loopback_http_url(raw: str) -> str:
    """An http URL on this machine: the benchmark never sends load anywhere else."""
    parts = urlsplit(raw)
    if parts.scheme != "http" or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an http://HOST:PORT URL")
    if parts.hostname not in _LOOPBACK:
        raise argparse.ArgumentTypeError(f"{raw!r} is not on loopback (127.0.0.1, localhost)")
    return raw.rstrip("/")


def _database_url(raw: str) -> str:
    """A gateway database URL; PostgreSQL only on this machine (loopback or a Unix socket)."""
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme == "sqlite+aiosqlite":
        return raw
    if scheme in ("postgresql+asyncpg", "postgresql", "postgres"):
        host = urlsplit(raw).hostname
        if host is not None and host not in _LOOPBACK:
            raise argparse.ArgumentTypeError(f"{raw!r}: the database must be on loopback")
        return raw
    raise argparse.ArgumentTypeError(
        f"{raw!r}: use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@127.0.0.1/DB"
    )


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _OneLineParser(
        prog="nlu_path",
        description="Compare web chat turns through the gateway with raw Rasa /model/parse calls.",
    )
    parser.add_argument(
        "--customers",
        type=_bounded_int(1, MAX_CUSTOMERS),
        default=8,
        help="concurrent customers, and concurrent parse clients (default 8)",
    )
    parser.add_argument(
        "--turns-per-customer",
        type=_bounded_int(1, MAX_TURNS),
        default=40,
        help="questions each customer asks, one after the other (default 40)",
    )
    parser.add_argument(
        "--rasa-url",
        type=_loopback_http_url,
        help="use this running Rasa instead of starting one (loopback only)",
    )
    parser.add_argument(
        "--database-url",
        type=_database_url,
        help="gateway database (default: a fresh SQLite file in a temporary directory)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    return parser.parse_args(argv)


# ------------------------------------------------------------------------------------ the run


@dataclass(frozen=True, slots=True)
class Report:
    """Every figure the benchmark prints, in the shape of its JSON output."""

    customers: int
    turns_per_customer: int
    database: str
    rasa: dict[str, Any]
    gateway: dict[str, Any]
    throughput_ratio: float | None
    added_latency_p50_ms: float | None
    targets: dict[str, bool | None]
    load_client_cpu_s: float
    machine: dict[str, Any]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _start_rasa(stack: AsyncExitStack, rasa_url: str | None) -> tuple[str, int | None]:
    """The Rasa URL to measure, and Rasa's pid when this run started it (for its CPU time)."""
    if rasa_url is not None:
        async with RasaNluClient(rasa_url, timeout=5.0, retries=0) as probe:
            if not await probe.ready():
                raise BenchError(f"no Rasa with a loaded model answers at {rasa_url}", EXIT_USAGE)
        return rasa_url, None
    try:
        model = await ensure_trained(
            ROOT / "nlu",
            ROOT / "var" / "models",
            ROOT / ".venv-rasa",
            progress=_training_progress(),
        )
        _progress("starting Rasa (about 30 s)…")
        server = await stack.enter_async_context(
            RasaServer(model, ROOT / ".venv-rasa", log_path=ROOT / "var" / "log" / "rasa.log")
        )
    except (RasaEnvironmentMissing, TrainingFailed, RasaServerError, FileNotFoundError) as exc:
        raise BenchError(f"cannot start Rasa: {str(exc).splitlines()[0]}", EXIT_USAGE) from None
    return server.url, server.pid


def _training_progress() -> Any:
    """A progress callback that says once that a model is being trained, and when it is done."""
    said: set[str] = set()

    def report(stage: str, fraction: float | None) -> None:
        if stage == "starting" and stage not in said:
            _progress("training the NLU model (first run only, 1-2 min)…")
        elif stage == "done":
            _progress("model trained")
        said.add(stage)

    return report


def _cpu_of(sampler: ProcessSampler | None) -> float | None:
    reading = sampler.sample() if sampler is not None else None
    return reading.cpu_seconds if reading is not None else None


def _delta(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before


async def run(args: argparse.Namespace) -> Report:
    customers, turns = args.customers, args.turns_per_customer
    async with AsyncExitStack() as stack:
        rasa_url, rasa_pid = await _start_rasa(stack, args.rasa_url)
        rasa = ProcessSampler(rasa_pid) if rasa_pid is not None else None

        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="carebot-bench-")))
        database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'carebot.db'}"
        gateway = GatewayProcess(rasa_url=rasa_url, database_url=database_url, workdir=workdir)
        try:
            await stack.enter_async_context(gateway)
        except GatewayStartError as exc:
            raise BenchError(str(exc), EXIT_GATEWAY) from None
        _progress(f"gateway pid {gateway.pid} on {gateway.url}, Rasa at {rasa_url}")
        await _check_ready(gateway.url)
        sampler = ProcessSampler(gateway.pid)
        sampler.start()
        stack.push_async_callback(sampler.stop)

        # Warm-up, not measured: Rasa's first parses trace TensorFlow graphs, and the gateway's
        # first turns compile SQL and open pools. Neither is what a running service pays per turn.
        _progress("warming up…")
        await parse_load(rasa_url, customers, 2)
        await chat_load(gateway.url, 1, _WARMUP_TURNS, tag="warmup")

        load_before = os.getloadavg()[0]
        _progress(f"raw Rasa: {customers} clients x {turns} parses…")
        rasa_cpu = _cpu_of(rasa)
        raw = await parse_load(rasa_url, customers, turns)
        rasa_cpu_raw = _delta(_cpu_of(rasa), rasa_cpu)

        _progress(f"gateway: {customers} customers x {turns} turns…")
        client_cpu = _own_cpu_seconds()
        gateway_cpu, rasa_cpu = _cpu_of(sampler), _cpu_of(rasa)
        chat = await chat_load(gateway.url, customers, turns)
        gateway_cpu = _delta(_cpu_of(sampler), gateway_cpu)
        rasa_cpu_chat = _delta(_cpu_of(rasa), rasa_cpu)
        client_cpu = _own_cpu_seconds() - client_cpu
        await sampler.stop()
        machine = {
            "cpus": os.cpu_count(),
            "load_avg_1m_before": round(load_before, 2),
            "load_avg_1m_after": round(os.getloadavg()[0], 2),
        }
        return _report(args, database_url, raw, chat, sampler, gateway_cpu, client_cpu,
                       rasa_cpu_raw, rasa_cpu_chat, machine)  # fmt: skip
    raise AssertionError("unreachable")  # pragma: no cover


async def _check_ready(url: str) -> None:
    """Warn (not fail) when ``/readyz`` says the database or Rasa is down: the figures would lie."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0)) as http,
        http.get(f"{url}/readyz") as response,
    ):
        if response.status != 200:
            _progress(
                f"warning: gateway /readyz answered {response.status}: {await response.text()}"
            )


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _report(
    args: argparse.Namespace,
    database_url: str,
    raw: RunResult,
    chat: RunResult,
    sampler: ProcessSampler,
    gateway_cpu: float | None,
    client_cpu: float,
    rasa_cpu_raw: float | None,
    rasa_cpu_chat: float | None,
    machine: dict[str, Any],
) -> Report:
    parse = Latencies.of(raw.latencies)
    reply = Latencies.of(chat.latencies)
    accept = Latencies.of(chat.accept_latencies)
    ratio = chat.per_second / raw.per_second if raw.per_second and chat.latencies else None
    added = (
        reply.p50_ms - parse.p50_ms
        if reply.p50_ms is not None and parse.p50_ms is not None
        else None
    )
    peak_mb = sampler.peak_rss_bytes / 2**20 if sampler.samples else None
    turns_done = len(chat.latencies)
    return Report(
        customers=args.customers,
        turns_per_customer=args.turns_per_customer,
        database=database_url.split("://", 1)[0],
        rasa={
            "requests": len(raw.latencies),
            "errors": raw.errors,
            "seconds": round(raw.wall_seconds, 3),
            "req_per_s": round(raw.per_second, 2),
            "p50_ms": _round(parse.p50_ms),
            "p99_ms": _round(parse.p99_ms),
            "cpu_ms_per_parse": _per_item_ms(rasa_cpu_raw, len(raw.latencies)),
            "cpu_ms_per_parse_during_chat": _per_item_ms(rasa_cpu_chat, turns_done),
            "top_intents": dict(raw.labels.most_common()),
        },
        gateway={
            "turns": turns_done,
            "errors": chat.errors,
            "lost_replies": chat.lost,
            "handoffs": chat.handoffs,
            "seconds": round(chat.wall_seconds, 3),
            "turns_per_s": round(chat.per_second, 2),
            "reply_p50_ms": _round(reply.p50_ms),
            "reply_p99_ms": _round(reply.p99_ms),
            "accept_p50_ms": _round(accept.p50_ms),
            "accept_p99_ms": _round(accept.p99_ms),
            "reply_kinds": dict(chat.labels.most_common()),
            "peak_rss_mb": _round(peak_mb, 1),
            "end_rss_mb": _round(sampler.last.rss_bytes / 2**20 if sampler.last else None, 1),
            "cpu_s": _round(gateway_cpu, 3),
            "cpu_ms_per_turn": _per_item_ms(gateway_cpu, turns_done),
            "cpu_percent": _round(
                100 * gateway_cpu / chat.wall_seconds
                if gateway_cpu and chat.wall_seconds
                else None,
                1,
            ),
        },
        throughput_ratio=_round(ratio, 3),
        added_latency_p50_ms=_round(added),
        targets={
            "throughput_ratio_ge_0_8": None if ratio is None else ratio >= TARGET_RATIO,
            "added_latency_p50_lt_5_ms": None if added is None else added < TARGET_ADDED_P50_MS,
            "peak_rss_lt_250_mb": None if peak_mb is None else peak_mb < TARGET_PEAK_RSS_MB,
        },
        load_client_cpu_s=round(client_cpu, 3),
        machine=machine,
    )


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _per_item_ms(seconds: float | None, count: int) -> float | None:
    return None if seconds is None or not count else round(1000 * seconds / count, 2)


# ------------------------------------------------------------------------------------ output


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def _verdict(met: bool | None) -> str:
    return {True: "ok", False: "MISSED", None: "n/a"}[met]


def render_table(report: Report) -> str:
    rasa, gateway, targets = report.rasa, report.gateway, report.targets
    total = report.customers * report.turns_per_customer
    lines = [
        f"carebot NLU path: {report.customers} concurrent customers x "
        f"{report.turns_per_customer} turns ({total}), database {report.database}",
        "",
        f"{'':34}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}",
        f"{'Rasa /model/parse (raw)':34}{_fmt(rasa['req_per_s']):>9}"
        f"{_fmt(rasa['p50_ms']):>9}{_fmt(rasa['p99_ms']):>9}",
        f"{'gateway web chat turn (reply)':34}{_fmt(gateway['turns_per_s']):>9}"
        f"{_fmt(gateway['reply_p50_ms']):>9}{_fmt(gateway['reply_p99_ms']):>9}",
        f"{'  of which POST → 202 (accept)':34}{'':>9}"
        f"{_fmt(gateway['accept_p50_ms']):>9}{_fmt(gateway['accept_p99_ms']):>9}",
        "",
        f"{'gateway/raw throughput':34}{_fmt(report.throughput_ratio, '.2f'):>9}"
        f"   target >= {TARGET_RATIO}   {_verdict(targets['throughput_ratio_ge_0_8'])}",
        f"{'gateway added latency p50 (ms)':34}{_fmt(report.added_latency_p50_ms):>9}"
        f"   target < {TARGET_ADDED_P50_MS:g}     {_verdict(targets['added_latency_p50_lt_5_ms'])}",
        f"{'gateway peak RSS (MB)':34}{_fmt(gateway['peak_rss_mb']):>9}"
        f"   target < {TARGET_PEAK_RSS_MB:g}   {_verdict(targets['peak_rss_lt_250_mb'])}",
        f"{'gateway CPU (ms per turn, % core)':34}{_fmt(gateway['cpu_ms_per_turn']):>9}"
        f"   {_fmt(gateway['cpu_percent'])} % of one core",
    ]
    if rasa["cpu_ms_per_parse"] is not None:
        lines.append(
            f"{'Rasa CPU (ms per parse: raw, chat)':34}{_fmt(rasa['cpu_ms_per_parse']):>9}"
            f"   {_fmt(rasa['cpu_ms_per_parse_during_chat'])} during the chat run"
        )
    lines.append(f"{'load generator CPU (s, chat run)':34}{_fmt(report.load_client_cpu_s):>9}")
    machine = report.machine
    lines.append(
        f"{'machine: cpus, load avg before/after':34}{machine['cpus']:>9}"
        f"   {machine['load_avg_1m_before']:.2f} / {machine['load_avg_1m_after']:.2f}"
    )
    problems = [
        f"{rasa['errors']} parse errors" if rasa["errors"] else "",
        f"{gateway['errors']} rejected posts" if gateway["errors"] else "",
        f"{gateway['lost_replies']} replies lost (>15 s)" if gateway["lost_replies"] else "",
        f"{gateway['handoffs']} handoffs (customer restarted)" if gateway["handoffs"] else "",
    ]
    if any(problems):
        lines += ["", "note: " + ", ".join(p for p in problems if p)]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("nlu_path", parse_arguments(argv), run, render_table)


if __name__ == "__main__":
    sys.exit(main())
