"""How many signed WhatsApp and Telegram webhooks the gateway accepts, and how fast it answers.

Usage::

    .venv/bin/python bench/webhooks.py [--senders N] [--seconds S] [--rate R]
                                       [--channel whatsapp|telegram|both] [--drain-timeout S]
                                       [--rasa-url URL] [--database-url URL] [--json]

Twilio and Telegram only wait for the webhook's 200; the gateway must store the message and answer
before doing any NLU (issue 3: at least 500 webhooks/s accepted with ack p99 under 50 ms on SQLite
on a 2-core machine). So the benchmark runs a real ``carebot serve`` process against the loopback
fakes of both APIs and a real Rasa, has N senders post signed webhooks from distinct customers for
S seconds, and measures

* accepted webhooks/s and the ack latency (POST to 200), per channel and overall;
* the end-to-end reply latency: POST to the reply reaching the fake Twilio or Telegram API,
  matched by customer (every post comes from a new customer);
* how long the backlog takes to drain once the senders stop (NLU and the platforms' send limits
  are slower than accepting, by design, so a burst leaves work behind).

By default the senders run a closed loop (each posts again once it has its ack): that measures
the accepted rate at that concurrency, but by Little's law the mean ack is then ``senders / rate``.
``--rate R`` offers R webhooks/s on a schedule instead, which is how the platforms deliver and
the direct test of the latency target (see :mod:`bench.webhook_senders`).

The fakes run in this process, not a helper: measured, they cost it about 5 % of a core while the
backlog drains (they only see replies, which Rasa paces to a few dozen per second), against
which the senders' own load dominates. What does distort the ack figures is this process not
getting the CPU on a busy 2-core machine, so its event-loop lag is measured and printed next to
them: an ack p99 close to the loop-lag p99 says more about the machine than about the gateway.

It reports and never asserts: exit code 0 whatever the figures, 2 with a one-line reason on bad
arguments or when Rasa, the fakes or the gateway cannot start, 130 when interrupted (everything it
started is stopped either way).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as a script, Python puts bench/ first on the path; the repository root must come first so
# that this checkout is what gets measured (as in bench/nlu_path.py).
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.command_main import run_command  # noqa: E402
from bench.gateway_process import GatewayProcess, GatewayStartError  # noqa: E402
from bench.nlu_path import (  # noqa: E402
    EXIT_USAGE,
    BenchError,
    _bounded_int,
    _check_ready,
    _database_url,
    _fmt,
    _loopback_http_url,
    _OneLineParser,
    _own_cpu_seconds,
    _progress,
    _round,
    _start_rasa,
    _verdict,
)
from bench.process_stats import Latencies, ProcessSampler, percentile  # noqa: E402
from bench.question_mix import questions_for  # noqa: E402
from bench.webhook_senders import (  # noqa: E402
    CHANNELS,
    TELEGRAM,
    WHATSAPP,
    SenderRun,
    WebhookFactory,
    client_session,
    post,
    run_senders,
)
from tests.fakes.telegram_bot_api import TOKEN as TELEGRAM_TOKEN  # noqa: E402
from tests.fakes.telegram_bot_api import FakeTelegram  # noqa: E402
from tests.fakes.twilio_api import FakeTwilio  # noqa: E402

TARGET_ACCEPTED_PER_S = 500.0
TARGET_ACK_P99_MS = 50.0

MAX_SENDERS = 1_000
MAX_SECONDS = 600
MAX_RATE = 20_000
DEFAULT_DRAIN_TIMEOUT_S = 300
# Stop waiting for the backlog when no reply at all arrived for this long: something is stuck.
_STALL_S = 30.0
_POLL_S = 0.05
_WARMUP_POSTS_PER_CHANNEL = 4
_WARMUP_TIMEOUT_S = 60.0
# Warm-up customers: sender 0's numbers from here on, far beyond any sequence a run reaches.
_WARMUP_SEQUENCE = 9_000_000
_LAG_PROBE_S = 0.005

Key = tuple[str, str]  # (channel, customer)


# ------------------------------------------------------------------------------------ arguments


def _positive_rate(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
    if not 0 < value <= MAX_RATE:
        raise argparse.ArgumentTypeError(f"{raw} is not in (0, {MAX_RATE}]")
    return value


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _OneLineParser(
        prog="webhooks",
        description="Signed WhatsApp and Telegram webhooks against a real gateway process.",
    )
    parser.add_argument(
        "--senders",
        type=_bounded_int(1, MAX_SENDERS),
        default=50,
        help="concurrent senders (default 50)",
    )
    parser.add_argument(
        "--seconds",
        type=_bounded_int(1, MAX_SECONDS),
        default=10,
        help="how long the senders post (default 10)",
    )
    parser.add_argument(
        "--rate",
        type=_positive_rate,
        help="offered webhooks/s in total, on a fixed schedule (default: closed loop, each "
        "sender posts again as soon as it has its ack)",
    )
    parser.add_argument(
        "--channel",
        choices=(WHATSAPP, TELEGRAM, "both"),
        default="both",
        help="which webhooks to post (default both: half the senders each)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=_bounded_int(1, 3_600),
        default=DEFAULT_DRAIN_TIMEOUT_S,
        help=f"longest wait for the backlog after the senders stop (default "
        f"{DEFAULT_DRAIN_TIMEOUT_S} s)",
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


# ------------------------------------------------------------------------------------ replies


class ReplyLog:
    """When each customer's first reply reached a fake API (monotonic seconds, fake's arrival).

    Reads the fakes' own records incrementally: they stamp a request the moment its handler runs,
    so the time is the fake's, not the time this benchmark got round to looking.
    """

    def __init__(self, twilio: FakeTwilio, telegram: FakeTelegram) -> None:
        self._twilio = twilio
        self._telegram = telegram
        self._seen_twilio = 0
        self._seen_telegram = 0
        self.first: dict[Key, float] = {}
        self.total = 0

    def update(self) -> None:
        messages = self._twilio.messages
        for message in messages[self._seen_twilio :]:
            self.total += 1
            self.first.setdefault((WHATSAPP, message.form.get("To", "")), message.at)
        self._seen_twilio = len(messages)
        calls = self._telegram.calls
        for call in calls[self._seen_telegram :]:
            if call.method == "sendMessage" and call.status == 200:
                self.total += 1
                self.first.setdefault((TELEGRAM, str(call.params.get("chat_id"))), call.at)
        self._seen_telegram = len(calls)

    def answered(self, keys: Iterable[Key]) -> int:
        return sum(1 for key in keys if key in self.first)


async def wait_for_replies(log: ReplyLog, keys: set[Key], timeout: float) -> bool:  # noqa: ASYNC109
    """Poll until every customer in ``keys`` has a reply; False after ``timeout`` or a stall."""
    deadline = time.monotonic() + timeout
    answered, progress_at = -1, time.monotonic()
    while True:
        log.update()
        now_answered = log.answered(keys)
        now = time.monotonic()
        if now_answered == len(keys):
            return True
        if now_answered != answered:
            answered, progress_at = now_answered, now
        if now >= deadline or now - progress_at >= _STALL_S:
            return False
        await asyncio.sleep(_POLL_S)


class LoopLag:
    """How late this process's event loop wakes up: the load generator's own distortion.

    A sleep of 5 ms that returns after 25 ms means any timestamp taken in that window may be up
    to 20 ms late; if the p99 of that lag is a good part of the ack p99, the client is too busy
    to measure the gateway and the ack figures are an upper bound.
    """

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(_LAG_PROBE_S)
            self.lags.append(max(0.0, time.monotonic() - before - _LAG_PROBE_S))


# ------------------------------------------------------------------------------------ the run


@dataclass(frozen=True, slots=True)
class Report:
    """Every figure the benchmark prints, in the shape of its JSON output."""

    senders: int
    seconds: int
    mode: str
    offered_rate: float | None
    channel: str
    database: str
    accepted: dict[str, Any]
    ack: dict[str, Any]
    reply: dict[str, Any]
    drain: dict[str, Any]
    gateway: dict[str, Any]
    rasa: dict[str, Any]
    load_generator: dict[str, Any]
    targets: dict[str, bool | None]
    machine: dict[str, Any]


def gateway_env_file(
    workdir: Path, *, twilio: FakeTwilio, telegram: FakeTelegram, secret: str
) -> None:
    """Turn both channels on, pointed at the fakes, through a ``.env`` in the gateway's directory.

    :class:`~bench.gateway_process.GatewayProcess` sets the core variables (including
    ``CAREBOT_PUBLIC_URL`` = its own URL, which the Twilio signatures are made for) and drops the
    caller's ``CAREBOT_*``; the gateway reads ``.env`` from its working directory (CONTRACT
    section 3) for what the environment does not set, which is exactly the channel settings.
    """
    lines = {
        "CAREBOT_TWILIO_ACCOUNT_SID": twilio.account_sid,
        "CAREBOT_TWILIO_AUTH_TOKEN": twilio.auth_token,
        "CAREBOT_TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "CAREBOT_TWILIO_API_URL": twilio.url,
        "CAREBOT_TELEGRAM_TOKEN": telegram.token,
        "CAREBOT_TELEGRAM_MODE": "webhook",
        "CAREBOT_TELEGRAM_WEBHOOK_SECRET": secret,
        "CAREBOT_TELEGRAM_API_URL": telegram.api_url,
    }
    path = workdir / ".env"
    path.write_text("".join(f"{key}={value}\n" for key, value in lines.items()))
    path.chmod(0o600)


async def run(args: argparse.Namespace) -> Report:
    channels = CHANNELS if args.channel == "both" else (args.channel,)
    async with AsyncExitStack() as stack:
        rasa_url, rasa_pid = await _start_rasa(stack, args.rasa_url)
        try:
            twilio = await stack.enter_async_context(FakeTwilio())
            telegram = await stack.enter_async_context(FakeTelegram(TELEGRAM_TOKEN))
        except OSError as exc:
            raise BenchError(f"cannot start the platform fakes: {exc}", EXIT_USAGE) from None

        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="carebot-bench-")))
        database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'carebot.db'}"
        secret = secrets.token_urlsafe(24)
        gateway_env_file(workdir, twilio=twilio, telegram=telegram, secret=secret)
        gateway = GatewayProcess(rasa_url=rasa_url, database_url=database_url, workdir=workdir)
        try:
            await stack.enter_async_context(gateway)
        except GatewayStartError as exc:
            raise BenchError(str(exc), EXIT_USAGE) from None
        _progress(f"gateway pid {gateway.pid} on {gateway.url}, Rasa at {rasa_url}")
        await _check_ready(gateway.url)

        http = await stack.enter_async_context(client_session(args.senders))
        factory = WebhookFactory(
            gateway_url=gateway.url,
            public_url=gateway.url,
            twilio=twilio,
            telegram_secret=secret,
            run_tag=secrets.randbelow(90),
        )
        replies = ReplyLog(twilio, telegram)
        await _warm_up(http, factory, replies, channels)

        sampler = ProcessSampler(gateway.pid)
        sampler.start()
        stack.push_async_callback(sampler.stop)
        rasa = ProcessSampler(rasa_pid) if rasa_pid is not None else None
        lag = LoopLag()
        stack.push_async_callback(lag.stop)

        load_before = os.getloadavg()[0]
        mode = f"{args.rate:g}/s offered" if args.rate else "closed loop"
        _progress(f"{args.senders} senders ({', '.join(channels)}, {mode}) for {args.seconds} s…")
        marks = _Marks.take(sampler, rasa)
        lag.start()
        sent = await run_senders(
            http,
            factory,
            senders=args.senders,
            seconds=args.seconds,
            channels=channels,
            rate=args.rate,
        )
        await lag.stop()
        sending = _Marks.take(sampler, rasa)

        keys = {(p.channel, p.customer) for p in sent.posts if p.accepted}
        replies.update()
        _progress(
            f"{len(keys)} accepted, {replies.answered(keys)} answered so far; "
            f"waiting for the backlog (at most {args.drain_timeout} s)…"
        )
        drained = await wait_for_replies(replies, keys, args.drain_timeout)
        done = _Marks.take(sampler, rasa)
        await sampler.stop()
        machine = {
            "cpus": os.cpu_count(),
            "load_avg_1m_before": round(load_before, 2),
            "load_avg_1m_after": round(os.getloadavg()[0], 2),
        }
        return _report(
            args, database_url, sent, replies, keys, drained, lag, sampler,
            (marks, sending, done), machine, mode,
        )  # fmt: skip
    raise AssertionError("unreachable")  # pragma: no cover


async def _warm_up(
    http: aiohttp.ClientSession, factory: WebhookFactory, replies: ReplyLog, channels: Sequence[str]
) -> None:
    """A few webhooks per channel, answered before the clock starts; not measured.

    The gateway's first requests compile SQL and open pools and connections to the fakes, Rasa's
    first parses trace TensorFlow graphs; neither is what a running service pays per webhook.
    """
    _progress("warming up…")
    keys: set[Key] = set()
    texts = questions_for(0, _WARMUP_POSTS_PER_CHANNEL)
    for channel in channels:
        for offset, text in enumerate(texts):
            webhook = factory.build(channel, 0, _WARMUP_SEQUENCE + offset, text)
            status = await post(http, webhook)
            if status != 200:
                raise BenchError(
                    f"the gateway answered a warm-up {channel} webhook with {status or 'nothing'}",
                    EXIT_USAGE,
                )
            keys.add((channel, webhook.customer))
    if not await wait_for_replies(replies, keys, _WARMUP_TIMEOUT_S):
        raise BenchError(
            f"no reply to the warm-up webhooks within {_WARMUP_TIMEOUT_S:.0f} s "
            "(is Rasa answering? see the gateway's /readyz)",
            EXIT_USAGE,
        )


@dataclass(frozen=True, slots=True)
class _Marks:
    """CPU seconds of the gateway and Rasa at one moment, to split the run into windows."""

    at: float
    gateway_cpu: float | None
    rasa_cpu: float | None
    own_cpu: float

    @classmethod
    def take(cls, gateway: ProcessSampler, rasa: ProcessSampler | None) -> _Marks:
        reading = gateway.sample()
        rasa_reading = rasa.sample() if rasa is not None else None
        return cls(
            time.monotonic(),
            reading.cpu_seconds if reading else None,
            rasa_reading.cpu_seconds if rasa_reading else None,
            _own_cpu_seconds(),
        )


def _percent(cpu_before: float | None, cpu_after: float | None, seconds: float) -> float | None:
    if cpu_before is None or cpu_after is None or seconds <= 0:
        return None
    return round(100 * (cpu_after - cpu_before) / seconds, 1)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1000 * seconds


def _latency_dict(seconds: list[float]) -> dict[str, Any]:
    stats = Latencies.of(seconds)
    top = max(seconds, default=None)
    return {
        "count": stats.count,
        "p50_ms": _round(stats.p50_ms),
        "p99_ms": _round(stats.p99_ms),
        "max_ms": _round(_ms(top)),
    }


def _report(
    args: argparse.Namespace,
    database_url: str,
    sent: SenderRun,
    replies: ReplyLog,
    keys: set[Key],
    drained: bool,
    lag: LoopLag,
    sampler: ProcessSampler,
    marks: tuple[_Marks, _Marks, _Marks],
    machine: dict[str, Any],
    mode: str,
) -> Report:
    start, sending, done = marks
    window = max(sent.last_ack - sent.first_start, 1e-9)
    channels = sorted({p.channel for p in sent.posts})
    accepted = [p for p in sent.posts if p.accepted]
    acks = {
        channel: [p.acked - p.started for p in accepted if p.channel == channel and p.acked]
        for channel in channels
    }
    all_acks = [latency for values in acks.values() for latency in values]
    started_at = {(p.channel, p.customer): p.started for p in accepted}
    ends = {
        channel: [replies.first[key] - at for key, at in started_at.items()
                  if key[0] == channel and key in replies.first]
        for channel in channels
    }  # fmt: skip
    all_ends = [latency for values in ends.values() for latency in values]
    answered_times = [replies.first[key] for key in keys if key in replies.first]
    last_reply = max(answered_times, default=None)
    first_reply = min(answered_times, default=None)
    drain_s = last_reply - sent.last_ack if drained and last_reply is not None else None
    processing = (
        len(answered_times) / (last_reply - sent.first_start)
        if last_reply is not None and last_reply > sent.first_start
        else None
    )
    per_s = len(accepted) / window
    ack_p99 = Latencies.of(all_acks).p99_ms
    sending_s = sending.at - start.at
    lag_p99 = percentile(lag.lags, 0.99)
    return Report(
        senders=args.senders,
        seconds=args.seconds,
        mode=mode,
        offered_rate=args.rate,
        channel=args.channel,
        database=database_url.split("://", 1)[0],
        accepted={
            "offered": None if not args.rate else round(args.rate * args.seconds),
            "posts": len(sent.posts),
            "accepted": len(accepted),
            "rejected": sum(1 for p in sent.posts if p.status not in (0, 200)),
            "client_errors": sum(1 for p in sent.posts if p.status == 0),
            "window_s": round(window, 3),
            "per_s": round(per_s, 1),
            "per_channel_per_s": {
                c: round(sum(1 for p in accepted if p.channel == c) / window, 1) for c in channels
            },
            "start_delay_p99_ms": _round(_ms(percentile(sent.start_delays, 0.99))),
        },
        ack={"all": _latency_dict(all_acks)} | {c: _latency_dict(v) for c, v in acks.items()},
        reply={"all": _latency_dict(all_ends)} | {c: _latency_dict(v) for c, v in ends.items()},
        drain={
            "drained": drained,
            "answered": len(answered_times),
            "unanswered": len(keys) - len(answered_times),
            "answered_while_sending": sum(1 for t in answered_times if t <= sent.last_ack),
            "seconds_after_last_ack": _round(drain_s, 1),
            "waited_s": round(done.at - sending.at, 1),
            "replies_per_s": _round(processing, 1),
            "first_reply_after_s": _round(
                None if first_reply is None else first_reply - sent.first_start, 2
            ),
            "messages_sent_by_gateway": replies.total,
        },
        gateway={
            "cpu_percent_sending": _percent(start.gateway_cpu, sending.gateway_cpu, sending_s),
            "cpu_percent_draining": _percent(
                sending.gateway_cpu, done.gateway_cpu, done.at - sending.at
            ),
            "cpu_ms_per_webhook_sending": _round(
                None
                if start.gateway_cpu is None or sending.gateway_cpu is None or not accepted
                else 1000 * (sending.gateway_cpu - start.gateway_cpu) / len(accepted)
            ),
            "peak_rss_mb": _round(sampler.peak_rss_bytes / 2**20 if sampler.samples else None, 1),
        },
        rasa={
            "started_here": start.rasa_cpu is not None,
            "cpu_percent_sending": _percent(start.rasa_cpu, sending.rasa_cpu, sending_s),
            "cpu_percent_draining": _percent(sending.rasa_cpu, done.rasa_cpu, done.at - sending.at),
        },
        load_generator={
            "cpu_percent_sending": _percent(start.own_cpu, sending.own_cpu, sending_s),
            # After the senders stop, this process only runs the fakes: their whole cost.
            "cpu_percent_draining": _percent(sending.own_cpu, done.own_cpu, done.at - sending.at),
            "loop_lag_p99_ms": _round(_ms(lag_p99)),
            "loop_lag_max_ms": _round(_ms(max(lag.lags, default=None))),
        },
        targets={
            "accepted_ge_500_per_s": per_s >= TARGET_ACCEPTED_PER_S,
            "ack_p99_lt_50_ms": None if ack_p99 is None else ack_p99 < TARGET_ACK_P99_MS,
        },
        machine=machine,
    )


# ------------------------------------------------------------------------------------ output


def render_table(report: Report) -> str:
    accepted, ack, reply, drain = report.accepted, report.ack, report.reply, report.drain
    gateway, rasa, client = report.gateway, report.rasa, report.load_generator
    channels = [c for c in CHANNELS if c in ack]
    lines = [
        f"carebot webhooks: {report.senders} senders, {report.seconds} s, {report.mode}, "
        f"channel {report.channel}, database {report.database}",
        "",
        f"{'':30}{'per s':>9}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'count':>8}",
    ]

    def row(label: str, per_s: float | None, stats: dict[str, Any]) -> str:
        return (
            f"{label:30}{_fmt(per_s):>9}{_fmt(stats['p50_ms']):>10}{_fmt(stats['p99_ms']):>10}"
            f"{_fmt(stats['max_ms']):>10}{stats['count']:>8}"
        )

    lines.append(row("ack (POST → 200), all", accepted["per_s"], ack["all"]))
    for channel in channels:
        lines.append(row(f"  {channel}", accepted["per_channel_per_s"][channel], ack[channel]))
    lines.append(row("reply (POST → fake API), all", drain["replies_per_s"], reply["all"]))
    for channel in channels:
        lines.append(row(f"  {channel}", None, reply[channel]))
    problems = ", ".join(
        text
        for text in (
            f"{accepted['rejected']} rejected" if accepted["rejected"] else "",
            f"{accepted['client_errors']} failed/timed out" if accepted["client_errors"] else "",
            f"starts p99 {accepted['start_delay_p99_ms']:.0f} ms behind schedule"
            if accepted["start_delay_p99_ms"]
            else "",
        )
        if text
    )
    targets = report.targets
    lines += [
        "",
        f"{'posts, accepted':30}{accepted['posts']:>9}{accepted['accepted']:>10}"
        + (f"   of {accepted['offered']} offered" if accepted["offered"] else "")
        + (f"   ({problems})" if problems else ""),
        f"{'backlog drained after (s)':30}{_fmt(drain['seconds_after_last_ack']):>9}"
        + (
            ""
            if drain["drained"]
            else f"   NOT drained: {drain['unanswered']} unanswered after {drain['waited_s']} s"
        ),
        f"{'  answered while sending':30}{drain['answered_while_sending']:>9}"
        f"   first reply {_fmt(drain['first_reply_after_s'], '.2f')} s after the start",
        "",
        f"{'accepted webhooks/s':30}{_fmt(accepted['per_s']):>9}"
        f"   target >= {TARGET_ACCEPTED_PER_S:g}   {_verdict(targets['accepted_ge_500_per_s'])}",
        f"{'ack p99 (ms)':30}{_fmt(ack['all']['p99_ms']):>9}"
        f"   target < {TARGET_ACK_P99_MS:g}      {_verdict(targets['ack_p99_lt_50_ms'])}",
        "",
        f"{'gateway CPU % (send, drain)':30}{_fmt(gateway['cpu_percent_sending']):>9}"
        f"{_fmt(gateway['cpu_percent_draining']):>10}   "
        f"{_fmt(gateway['cpu_ms_per_webhook_sending'], '.2f')} ms CPU per accepted webhook",
        f"{'gateway peak RSS (MB)':30}{_fmt(gateway['peak_rss_mb']):>9}",
    ]
    if rasa["started_here"]:
        lines.append(
            f"{'Rasa CPU % (send, drain)':30}{_fmt(rasa['cpu_percent_sending']):>9}"
            f"{_fmt(rasa['cpu_percent_draining']):>10}"
        )
    lines += [
        f"{'bench CPU % (send, drain)':30}{_fmt(client['cpu_percent_sending']):>9}"
        f"{_fmt(client['cpu_percent_draining']):>10}   "
        f"loop lag p99 {_fmt(client['loop_lag_p99_ms'])} ms, "
        f"max {_fmt(client['loop_lag_max_ms'])} ms",
        f"{'machine: cpus, load avg':30}{report.machine['cpus']:>9}"
        f"   {report.machine['load_avg_1m_before']:.2f} before, "
        f"{report.machine['load_avg_1m_after']:.2f} after",
    ]
    if report.database != "sqlite+aiosqlite":
        lines.append("note: the targets are stated for SQLite")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("webhooks", parse_arguments(argv), run, render_table)


if __name__ == "__main__":
    sys.exit(main())
