"""The load side of the webhook benchmark: signed Twilio and Telegram webhooks from many senders.

Every post comes from a customer never seen before. That is the gateway's most expensive accept
(a customer, a conversation and a message are inserted in one transaction), and it makes each reply
that reaches a fake API name exactly one post, so end-to-end latency needs no guessing.

Two ways to send:

* closed loop (``rate=None``): each sender posts again as soon as its previous post is answered. The
  accepted rate is then the gateway's capacity at that concurrency, and by Little's law the mean ack
  latency is about ``senders / rate``: 50 senders at 500/s cannot see a mean below 100 ms however
  fast each request is, so this mode measures throughput, not the latency target.
* paced (``rate=R``): the senders together start ``R`` posts per second on a fixed schedule, as
  Twilio and Telegram do (they do not wait for one customer's ack before delivering another's).
  Latency is still measured from the moment the POST really starts; how far behind the schedule
  the starts were is reported on its own (``start_delays``), because a sender can fall behind for
  two reasons that must not be mixed up: its previous post was slow (the gateway's fault, and the
  accepted rate then falls short of ``R``) or this process did not get the CPU (the load
  generator's fault, seen in its event-loop lag).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from bench.question_mix import FAQ_ITALIAN, question_mix, questions_for
from tests.fakes.telegram_bot_api import TelegramUpdates
from tests.fakes.twilio_api import FakeTwilio

WHATSAPP = "whatsapp"
TELEGRAM = "telegram"
CHANNELS = (WHATSAPP, TELEGRAM)

WHATSAPP_PATH = "/webhooks/whatsapp"
TELEGRAM_PATH = "/webhooks/telegram"
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

#: A post not answered within this is counted as an error (keeps every sender loop bounded).
POST_TIMEOUT_S = 10.0
# Customer numbers: run tag, sender and sequence number, so no two posts share a customer.
_SEQUENCE_SPAN = 10_000_000
_SENDER_SPAN = 1_000
_ITALIAN = frozenset(FAQ_ITALIAN)


@dataclass(frozen=True, slots=True)
class Post:
    """One webhook post: who it was from and when it started and was answered (monotonic s).

    ``acked`` is None and ``status`` 0 when the
    post failed on the client side (connection error or :data:`POST_TIMEOUT_S`).
    """

    channel: str
    customer: str
    started: float
    acked: float | None
    status: int

    @property
    def accepted(self) -> bool:
        return self.status == 200


@dataclass
class SenderRun:
    """Every post of a run, plus the window they were sent in (monotonic seconds)."""

    posts: list[Post] = field(default_factory=list)
    first_start: float = 0.0
    last_ack: float = 0.0
    # Paced mode: how late each post started against its schedule (s).
    start_delays: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Webhook:
    """A ready-to-post request and the customer whose reply will answer it."""

    channel: str
    customer: str
    url: str
    body: bytes | dict[str, str]
    headers: dict[str, str]


class WebhookFactory:
    """Builds webhooks as the platforms send them, signed for the gateway's public URL.

    Args:
        gateway_url: where to post (the gateway's loopback URL).
        public_url: ``CAREBOT_PUBLIC_URL``: what Twilio's signature covers.
        twilio: the fake Twilio, which signs with the real ``RequestValidator`` algorithm.
        telegram_secret: ``CAREBOT_TELEGRAM_WEBHOOK_SECRET``.
        run_tag: 0-99, part of every customer number, so that runs against a database that is
            not fresh do not continue earlier runs' conversations.
    """

    def __init__(
        self,
        *,
        gateway_url: str,
        public_url: str,
        twilio: FakeTwilio,
        telegram_secret: str,
        run_tag: int,
    ) -> None:
        self._gateway_url = gateway_url
        self._signed_url = public_url.rstrip("/") + WHATSAPP_PATH
        self._twilio = twilio
        self._secret = telegram_secret
        self._base = (10 + run_tag % 90) * _SENDER_SPAN * _SEQUENCE_SPAN
        self._updates = TelegramUpdates()

    def customer_number(self, sender: int, sequence: int) -> int:
        """A number unique to (sender, sequence) in this run: 12 or 13 digits."""
        return self._base + (sender % _SENDER_SPAN) * _SEQUENCE_SPAN + sequence % _SEQUENCE_SPAN

    def build(self, channel: str, sender: int, sequence: int, text: str) -> Webhook:
        number = self.customer_number(sender, sequence)
        if channel == WHATSAPP:
            address = f"whatsapp:+{number}"
            form = self._twilio.inbound_form(text, sender=address, profile_name=f"Cliente {number}")
            headers, data = self._twilio.signed_inbound(self._signed_url, form)
            return Webhook(channel, address, self._gateway_url + WHATSAPP_PATH, data, headers)
        language = "it" if text in _ITALIAN else "en"
        update = self._updates.text(number, text, first_name="Cliente", language_code=language)
        headers = {"Content-Type": "application/json", TELEGRAM_SECRET_HEADER: self._secret}
        body = json.dumps(update).encode()
        return Webhook(channel, str(number), self._gateway_url + TELEGRAM_PATH, body, headers)


async def post(http: aiohttp.ClientSession, webhook: Webhook) -> int:
    """Post one webhook and read the whole answer; its status, 0 on a client-side failure."""
    try:
        async with http.post(webhook.url, data=webhook.body, headers=webhook.headers) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return 0


def client_session(senders: int) -> aiohttp.ClientSession:
    """Keep-alive connections, at least one per sender, so no sender queues for a connection."""
    connector = aiohttp.TCPConnector(limit=senders + 8, keepalive_timeout=60)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT_S)
    )


async def run_senders(
    http: aiohttp.ClientSession,
    factory: WebhookFactory,
    *,
    senders: int,
    seconds: float,
    channels: Sequence[str],
    rate: float | None,
    first_sender: int = 0,
) -> SenderRun:
    """``senders`` concurrent senders posting for ``seconds`` (see the module docstring).

    Sender ``i`` posts on ``channels[i % len(channels)]``, so with both channels half the senders
    play Twilio and half Telegram. Each asks the shared question mix from its own offset. Bounded:
    no post starts after the deadline, and every post ends within :data:`POST_TIMEOUT_S`.
    """
    run = SenderRun()
    mix_length = len(question_mix())
    interval = senders / rate if rate else 0.0
    start = time.monotonic()
    deadline = start + seconds

    async def sender(index: int) -> None:
        number = first_sender + index
        channel = channels[index % len(channels)]
        questions = itertools.cycle(questions_for(number, mix_length))
        # Stagger paced senders across one interval so the offered load is smooth, not bursts.
        next_at = start + interval * index / senders
        for sequence in itertools.count():
            if interval:
                # Behind schedule at the deadline (slow acks): the rest is offered but never sent.
                if next_at >= deadline or time.monotonic() >= deadline:
                    return
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                scheduled, next_at = next_at, next_at + interval
            else:
                scheduled = time.monotonic()
                if scheduled >= deadline:
                    return
            webhook = factory.build(channel, number, sequence, next(questions))
            began = time.monotonic()
            if interval:
                run.start_delays.append(began - scheduled)
            status = await post(http, webhook)
            acked = time.monotonic() if status else None
            run.posts.append(Post(channel, webhook.customer, began, acked, status))

    async with asyncio.TaskGroup() as group:
        for index in range(senders):
            group.create_task(sender(index))
    run.first_start = start
    run.last_ack = max((p.acked for p in run.posts if p.acked is not None), default=start)
    return run
