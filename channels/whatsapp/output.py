"""The WhatsApp :class:`~bot.interfaces.OutputChannel`: replies through Twilio's Messages API.

Sending uses the real twilio library with its aiohttp-based client, so nothing blocks the event loop
(Rasa's connector calls the synchronous client from async code). Twilio's errors become
:class:`~bot.interfaces.DeliveryError` s the outbox understands: retry on 429, 5xx, timeouts and
connection errors (honouring ``Retry-After``); give up on a 4xx that cannot succeed, marking the
customer unreachable when the number is invalid or opted out.

Choices keep the :class:`~bot.interfaces.OutputChannel` default, a numbered list under the text: it
works for every WhatsApp sender without pre-approved templates, and the engine maps a typed "1", "2"
or the option's title back to its payload.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.rest import Client

from bot.interfaces import DeliveryError, OutputChannel, render_choices_as_text
from bot.messages import Channel, Delivery, OutboundMessage
from channels.whatsapp.body_split import MAX_BODY, split_body
from channels.whatsapp.twilio_http import ResponseNote, TwilioAioHttpClient

log = logging.getLogger(__name__)

# Twilio error codes (https://www.twilio.com/docs/api/errors) that decide how a failure is handled.
TOO_MANY_REQUESTS = 20429
OUTSIDE_WINDOW = 63016  # a free-form message outside WhatsApp's 24-hour customer-service window
CHANNEL_RATE_LIMIT = 63018
UNREACHABLE_CODES = frozenset(
    {
        21211,  # invalid 'To' number
        21610,  # the recipient replied STOP: Twilio refuses every further message
        21614,  # 'To' is not a valid mobile number
    }
)

# Messages whose first parts went out before a later part failed; bounded so that messages the
# outbox gave up on cannot pile up forever.
MAX_PARTIAL_SENDS = 10_000


class PartialDeliveryError(DeliveryError):
    """A long reply failed part-way: ``sent_ids`` are the Twilio SIDs of the parts that went out.

    It is still a :class:`DeliveryError` with the usual ``permanent``/``retry_after``, so the outbox
    needs to know nothing about it; the SIDs are there for logs and for callers that want them.
    """

    def __init__(self, cause: DeliveryError, *, sent_ids: tuple[str, ...], total: int) -> None:
        super().__init__(
            f"{cause} (after {len(sent_ids)} of {total} parts were sent)",
            code=cause.code,
            permanent=cause.permanent,
            retry_after=cause.retry_after,
            unreachable=cause.unreachable,
        )
        self.sent_ids = sent_ids


@dataclass
class _Progress:
    """The parts of one outbound message that Twilio has already accepted."""

    recipient_id: str
    parts: tuple[str, ...]
    sent_ids: list[str] = field(default_factory=list)


class TwilioWhatsAppOutput(OutputChannel):
    """Sends WhatsApp messages with ``twilio.rest.Client`` over its async HTTP client.

    The client and its aiohttp session are created on the first send, inside the running event loop
    (aiohttp sessions must be), and closed by :meth:`close`.

    A reply longer than Twilio's 1,600 characters goes out as several messages, cut at paragraph
    boundaries when possible (:func:`~channels.whatsapp.body_split.split_body`). When a later part
    fails after earlier ones were accepted, the outbox retries the whole reply, but
    :class:`~bot.interfaces.DeliveryError` cannot say which parts went out. So :meth:`send_reply`
    remembers, by ``OutboundMessage.id``, the SIDs of the parts already accepted and skips them on
    the retry: the customer gets each part once, in order, and the returned :class:`Delivery` lists
    every part's SID. The memory is per process and bounded (:data:`MAX_PARTIAL_SENDS`); after a
    crash in that narrow window a retry sends the earlier parts again, the lesser evil than losing
    the rest. It is forgotten once the reply is delivered or fails permanently. :meth:`send_text`
    has no message id and cannot do this; the outbox uses :meth:`send_reply`.

    Args:
        account_sid: the Twilio account SID (``AC...``).
        auth_token: the account's auth token.
        from_number: the WhatsApp sender, ``whatsapp:+14155238886`` (the prefix is added if
            missing).
        api_url: the REST base, ``https://api.twilio.com`` or a fake in tests.
        status_callback_url: where Twilio reports delivery (``CAREBOT_PUBLIC_URL`` +
            ``/webhooks/whatsapp/status``), or None for no reports.
        max_body: the longest message body; Twilio's limit unless a test wants smaller parts.
        request_timeout: seconds one API call may take before it is retried later. A timeout after
            Twilio accepted a message can mean it is sent twice on retry; 15 s makes that rare.
    """

    channel = Channel.WHATSAPP
    reply_window = timedelta(hours=24)

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        api_url: str,
        status_callback_url: str | None,
        max_body: int = MAX_BODY,
        request_timeout: float = 15.0,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("a Twilio account SID and auth token are required")
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._from = _whatsapp_address(from_number)
        self._api_url = api_url.rstrip("/")
        self._status_callback_url = status_callback_url
        self._max_body = max_body
        self._request_timeout = request_timeout
        self._client: Any = None  # twilio.rest.Client, untyped
        self._http: TwilioAioHttpClient | None = None
        self._partial: OrderedDict[int, _Progress] = OrderedDict()

    def __repr__(self) -> str:
        return f"TwilioWhatsAppOutput(from={self._from!r}, api_url={self._api_url!r})"

    async def send_text(self, recipient_id: str, text: str) -> Delivery:
        """Send ``text``, in several messages if it is longer than the body limit."""
        progress = _Progress(recipient_id, tuple(split_body(text, self._max_body)))
        await self._send_parts(progress)
        return Delivery(tuple(progress.sent_ids))

    async def send_reply(self, message: OutboundMessage) -> Delivery:
        """Send a reply (choices as a numbered list), skipping parts an earlier attempt sent."""
        parts = tuple(split_body(render_choices_as_text(message.reply), self._max_body))
        progress = self._partial.pop(message.id, None)
        if (
            progress is None
            or progress.parts != parts
            or progress.recipient_id != message.recipient_id
        ):
            progress = _Progress(message.recipient_id, parts)
        elif progress.sent_ids:
            log.info(
                "whatsapp reply %d: %d of %d parts were sent before, sending the rest",
                message.id,
                len(progress.sent_ids),
                len(parts),
            )
        try:
            await self._send_parts(progress)
        except DeliveryError as exc:
            if progress.sent_ids and not exc.permanent:
                self._partial[message.id] = progress
                while len(self._partial) > MAX_PARTIAL_SENDS:
                    self._partial.popitem(last=False)
            raise
        return Delivery(tuple(progress.sent_ids))

    async def close(self) -> None:
        """Close the HTTP session; a later send opens a new one."""
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()

    async def _send_parts(self, progress: _Progress) -> None:
        for index in range(len(progress.sent_ids), len(progress.parts)):
            try:
                sid = await self._create(progress.recipient_id, progress.parts[index])
            except DeliveryError as exc:
                if not progress.sent_ids:
                    raise
                raise PartialDeliveryError(
                    exc, sent_ids=tuple(progress.sent_ids), total=len(progress.parts)
                ) from exc
            progress.sent_ids.append(sid)

    async def _create(self, recipient_id: str, body: str) -> str:
        """One ``POST .../Messages.json``: the message SID, or a :class:`DeliveryError`."""
        extra: dict[str, str] = {}
        if self._status_callback_url:
            extra["status_callback"] = self._status_callback_url
        messages = self._messages()
        with ResponseNote() as note:
            try:
                created = await messages.create_async(
                    to=_whatsapp_address(recipient_id), from_=self._from, body=body, **extra
                )
            except (TwilioRestException, TwilioServiceException) as exc:
                if exc.status in (401, 403):
                    log.error(
                        "Twilio refused our credentials (HTTP %s): check "
                        "CAREBOT_TWILIO_ACCOUNT_SID and CAREBOT_TWILIO_AUTH_TOKEN",
                        exc.status,
                    )
                raise _delivery_error(exc, note.retry_after()) from exc
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                # A timeout may hide a message Twilio accepted; retrying risks a duplicate, not
                # retrying risks a lost reply. At-least-once is the outbox's promise.
                raise DeliveryError(f"Twilio API unreachable ({type(exc).__name__})") from exc
        return str(created.sid)

    def _messages(self) -> Any:
        """The account's ``MessageList``; the client is made in the running loop on first use."""
        if self._client is None:
            self._http = TwilioAioHttpClient(timeout=self._request_timeout)
            client = Client(self._account_sid, self._auth_token, http_client=self._http)
            # TWILIO_EDGE / TWILIO_REGION in the environment would rewrite the host of every
            # request (api.dublin.ie1.twilio.com...), sending it past CAREBOT_TWILIO_API_URL.
            client.edge = None
            client.region = None
            client.api.base_url = self._api_url
            self._client = client
        return self._client.api.account.messages


def _delivery_error(
    exc: TwilioRestException | TwilioServiceException, retry_after: float | None
) -> DeliveryError:
    """The outbox's view of a Twilio API error: retry or not, and what to store."""
    status = int(exc.status)
    code = int(exc.code) if isinstance(exc.code, int) else None
    detail = str(getattr(exc, "msg", None) or getattr(exc, "title", None) or "")
    label = str(code or status)
    message = f"Twilio refused the message: HTTP {status}, error {label}: {detail}".rstrip(": ")
    if status == 429 or code in (TOO_MANY_REQUESTS, CHANNEL_RATE_LIMIT):
        return DeliveryError(message, code=label, retry_after=retry_after)
    if status >= 500:
        return DeliveryError(message, code=label, retry_after=retry_after)
    if code == OUTSIDE_WINDOW:
        return DeliveryError(message, code=label, permanent=True)
    if code in UNREACHABLE_CODES:
        return DeliveryError(message, code=label, permanent=True, unreachable=True)
    return DeliveryError(message, code=label, permanent=True)


def _whatsapp_address(number: str) -> str:
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"
