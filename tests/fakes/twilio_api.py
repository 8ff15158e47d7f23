"""A loopback stand-in for Twilio's Messages API, and Twilio's side of the webhooks.

The real twilio client is pointed at it (``client.api.base_url = fake.url``), so tests exercise the
library's own request building, auth and error parsing. It answers
``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` like Twilio does: HTTP basic auth with the
account SID and auth token, Twilio's parameter checks and error codes (21604, 21603, 21619, 21617,
21211, ...) in Twilio's legacy error body, and a ``201`` with the fields of a Message resource.

Tests make it fail the way Twilio does: :meth:`FakeTwilio.fail_next` (429 with ``Retry-After``),
:meth:`FakeTwilio.fail_for` (500 for a while), :meth:`FakeTwilio.respond_slowly`, and
:meth:`FakeTwilio.reject` for one recipient (63016 outside the 24-hour window, 21211 invalid
number).

It also plays Twilio calling us: :meth:`FakeTwilio.signed_inbound` signs an inbound webhook with the
real ``RequestValidator`` algorithm, and :meth:`FakeTwilio.send_status` posts a signed status
callback.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
import secrets
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Self

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
MAX_BODY = 1600
FAKE_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
FAKE_AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
WHATSAPP_SANDBOX = "whatsapp:+14155238886"

_ADDRESS = re.compile(r"^(whatsapp:)?\+[1-9][0-9]{6,14}$")

# Twilio's own wording for the errors the fake produces.
_ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "The 'To' number {to} is not a valid phone number.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21609: "Invalid StatusCallback url",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21619: "A text message body or media urls must be specified.",
    63016: (
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template."
    ),
}


def new_sid(prefix: str = "SM") -> str:
    """A Twilio-shaped SID: two capital letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True)
class ReceivedRequest:
    """One ``Messages.json`` request as the fake saw it, whatever it answered.

    Attributes:
        form: the posted form (the twilio client never repeats a field).
        at: ``time.monotonic()`` when it arrived, to check waits such as ``Retry-After``.
        status: the HTTP status the fake answered.
        sid: the new message's SID when it was accepted.
    """

    form: dict[str, str]
    at: float
    status: int
    sid: str | None = None


@dataclass(frozen=True)
class _Failure:
    status: int
    code: int
    retry_after: float | None = None


@dataclass
class _Outage:
    until: float
    failure: _Failure


@dataclass
class _Script:
    skip: int  # requests to let through before the failures start
    failures: deque[_Failure] = field(default_factory=deque)


class FakeTwilio:
    """An aiohttp server on 127.0.0.1 (port 0) playing Twilio's Messages API.

    Use as ``async with FakeTwilio() as fake:``, then point the client at ``fake.url`` with
    ``fake.account_sid`` and ``fake.auth_token``.

    Attributes:
        requests: every ``Messages.json`` request, accepted or not, in arrival order.
        messages: the accepted ones only: what the customers got.
        url: the base URL, set once the server runs.
    """

    def __init__(
        self, account_sid: str = FAKE_ACCOUNT_SID, auth_token: str = FAKE_AUTH_TOKEN
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[ReceivedRequest] = []
        self.messages: list[ReceivedRequest] = []
        self.url = ""
        self._scripts: deque[_Script] = deque()
        self._outage: _Outage | None = None
        self._delay = 0.0
        self._rejected: dict[str, _Failure] = {}
        self._changed = asyncio.Condition()
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._validator = RequestValidator(auth_token)

    # -- telling it how to behave -----------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 429,
        code: int = 20429,
        retry_after: float | None = None,
        after: int = 0,
    ) -> None:
        """Fail ``count`` requests with ``status``/``code``, after letting ``after`` through.

        ``retry_after`` becomes a ``Retry-After`` header (whole seconds are sent as an integer).
        """
        failure = _Failure(status, code, retry_after)
        self._scripts.append(_Script(after, deque([failure] * count)))

    def fail_for(self, seconds: float, *, status: int = 500, code: int = 20500) -> None:
        """Fail every request for the next ``seconds`` (an outage), then recover."""
        self._outage = _Outage(time.monotonic() + seconds, _Failure(status, code))

    def respond_slowly(self, delay: float) -> None:
        """Answer every request ``delay`` seconds late (0 to stop)."""
        self._delay = delay

    def reject(self, to: str, *, status: int = 400, code: int = 63016) -> None:
        """Refuse every message to ``to`` (the ``whatsapp:+...`` address) with this error."""
        self._rejected[to] = _Failure(status, code)

    async def wait_for(
        self,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109  # the signature all our fakes share
    ) -> list[ReceivedRequest]:
        """Wait until ``count`` messages were accepted; the accepted messages so far."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.messages) >= count)
        return list(self.messages)

    # -- playing Twilio calling us ----------------------------------------------------------------

    def sign(self, url: str, form: Mapping[str, str]) -> str:
        """``X-Twilio-Signature`` for a post of ``form`` to ``url``, as Twilio computes it.

        A ``MultiDict`` form has each of a repeated field's values signed, as Twilio does.
        """
        return str(self._validator.compute_signature(url, form))

    def signed_inbound(
        self, public_url: str, form: dict[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Headers and form of a webhook post Twilio would make to ``public_url``.

        Args:
            public_url: the full URL configured in Twilio, e.g.
                ``https://bot.example.com/webhooks/whatsapp``: what the signature covers.
            form: the form to post (see :meth:`inbound_form`).
        """
        headers = {
            "X-Twilio-Signature": self.sign(public_url, form),
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
        }
        return headers, dict(form)

    def inbound_form(
        self,
        body: str,
        *,
        sender: str = "whatsapp:+393331234567",
        profile_name: str = "Giulia",
        message_sid: str | None = None,
        **extra: str,
    ) -> dict[str, str]:
        """The form of an inbound WhatsApp text message, with the fields Twilio sends."""
        sid = message_sid or new_sid("SM")
        form = {
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ProfileName": profile_name,
            "MessageType": "text",
            "SmsSid": sid,
            "WaId": sender.removeprefix("whatsapp:+"),
            "SmsStatus": "received",
            "Body": body,
            "To": WHATSAPP_SANDBOX,
            "NumSegments": "1",
            "ReferralNumMedia": "0",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": sender,
            "ApiVersion": API_VERSION,
        }
        form.update(extra)
        return form

    def status_form(
        self, message_sid: str, status: str, *, error_code: int | None = None
    ) -> dict[str, str]:
        """The form of a status callback about ``message_sid``, with the fields Twilio sends."""
        form = {
            "ChannelPrefix": "whatsapp",
            "ApiVersion": API_VERSION,
            "MessageStatus": status,
            "SmsSid": message_sid,
            "SmsStatus": status,
            "ChannelInstallSid": new_sid("XE"),
            "To": "whatsapp:+393331234567",
            "From": WHATSAPP_SANDBOX,
            "MessageSid": message_sid,
            "AccountSid": self.account_sid,
        }
        if error_code is not None:
            form["ErrorCode"] = str(error_code)
            form["ChannelStatusMessage"] = _ERROR_MESSAGES.get(error_code, "error").format(to="")
        return form

    async def send_status(
        self,
        url: str,
        message_sid: str,
        status: str,
        *,
        error_code: int | None = None,
        signed_url: str | None = None,
    ) -> int:
        """Post a signed status callback to ``url``; the HTTP status of the answer.

        Args:
            url: where to post (the test server).
            message_sid: the message the report is about.
            status: Twilio's ``MessageStatus`` (``sent``, ``delivered``, ``failed``, ...).
            error_code: Twilio's ``ErrorCode`` for a failure.
            signed_url: the URL to sign for when it differs from ``url`` (a public URL behind a
                proxy); ``url`` by default.
        """
        form = self.status_form(message_sid, status, error_code=error_code)
        headers = {"X-Twilio-Signature": self.sign(signed_url or url, form)}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=form, headers=headers) as response,
        ):
            await response.read()
            return response.status

    # -- the server -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/{api_version}/Accounts/{sid}/Messages.json", self._create_message)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._released.set()  # end handlers still "being slow" at once
        if self._runner is not None:
            await self._runner.cleanup()

    async def _create_message(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        form = {
            key: value for key, value in (await request.post()).items() if isinstance(value, str)
        }
        if self._delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), self._delay)
        response, sid = self._answer(request, form, arrived)
        record = ReceivedRequest(form, arrived, response.status, sid)
        async with self._changed:
            self.requests.append(record)
            if sid is not None:
                self.messages.append(record)
            self._changed.notify_all()
        return response

    def _answer(
        self, request: web.Request, form: dict[str, str], arrived: float
    ) -> tuple[web.Response, str | None]:
        path_sid = request.match_info["sid"]
        if not self._authorized(request.headers.get("Authorization", "")):
            return _error(401, 20003), None
        if request.match_info["api_version"] != API_VERSION or path_sid != self.account_sid:
            return _error(404, 20404), None
        if (failure := self._scripted_failure(arrived)) is not None:
            return _error(failure.status, failure.code, retry_after=failure.retry_after), None
        if (problem := _validate(form)) is not None:
            return problem, None
        to = form["To"]
        if (rejection := self._rejected.get(to)) is not None:
            return _error(rejection.status, rejection.code, to=to), None
        sid = new_sid("SM" if "MediaUrl" not in form else "MM")
        return web.json_response(self._resource(sid, form), status=201), sid

    def _authorized(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("latin-1")
        except (binascii.Error, ValueError):
            return False
        username, _, password = decoded.partition(":")
        return secrets.compare_digest(username, self.account_sid) and secrets.compare_digest(
            password, self.auth_token
        )

    def _scripted_failure(self, arrived: float) -> _Failure | None:
        if self._outage is not None:
            if arrived < self._outage.until:
                return self._outage.failure
            self._outage = None
        while self._scripts:
            script = self._scripts[0]
            if script.skip > 0:
                script.skip -= 1
                return None
            if script.failures:
                return script.failures.popleft()
            self._scripts.popleft()
        return None

    def _resource(self, sid: str, form: dict[str, str]) -> dict[str, object]:
        """The Message resource JSON Twilio returns for a newly queued message."""
        now = format_datetime(datetime.now(UTC), usegmt=True)
        body = form.get("Body", "")
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "1" if form.get("MediaUrl") else "0",
            "num_segments": str(_segments(body, whatsapp=form["To"].startswith("whatsapp:"))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": form["To"],
            "uri": f"{uri}.json",
        }


def _validate(form: dict[str, str]) -> web.Response | None:
    """Twilio's parameter checks, in Twilio's order, as an error response; None when all pass."""
    to = form.get("To")
    if not to:
        return _error(400, 21604)
    if not form.get("From") and not form.get("MessagingServiceSid"):
        return _error(400, 21603)
    if not form.get("Body") and not form.get("ContentSid") and not form.get("MediaUrl"):
        return _error(400, 21619)
    if len(form.get("Body", "")) > MAX_BODY:
        return _error(400, 21617)
    if not _ADDRESS.match(to):
        return _error(400, 21211, to=to)
    callback = form.get("StatusCallback")
    if callback is not None and not callback.startswith(("http://", "https://")):
        return _error(400, 21609)
    return None


def _segments(body: str, *, whatsapp: bool) -> int:
    """How many SMS segments Twilio bills; a WhatsApp message is always one."""
    if whatsapp or not body:
        return 1
    single, multi = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)


def _error(
    status: int, code: int, *, retry_after: float | None = None, to: str = ""
) -> web.Response:
    """Twilio's legacy error body, which the twilio library turns into ``TwilioRestException``."""
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = (
            str(int(retry_after)) if retry_after == int(retry_after) else str(retry_after)
        )
    body = {
        "code": code,
        "message": _ERROR_MESSAGES.get(code, "Error").format(to=to),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status, headers=headers)
