"""The twilio library's async HTTP client, with the three things it lacks for an outbox.

twilio 9.13's ``AsyncTwilioHttpClient`` is what the library offers for non-blocking calls, and this
keeps it (same class, same logging) but changes how a request is made:

- **A timeout.** It ignores its own ``timeout`` and passes ``None`` to aiohttp, which means *no*
  timeout: a stalled connection would hold an outbox slot forever.
- **No deprecated API.** It authenticates with ``aiohttp.BasicAuth``, deprecated in aiohttp 3.14
  (``DeprecationWarning``, an error in our tests); the same header is built directly here.
- **Quieter logs.** One DEBUG line per request instead of the library's dozen INFO lines.
- **The response headers of a failed call.** ``TwilioRestException`` drops them, but a 429's
  ``Retry-After`` is how long the outbox should wait. The client cannot return them through the
  library, so it puts them in a :class:`ResponseNote` that the caller opened around the call. A
  context variable carries the note: the library awaits the request in the caller's own task, and
  concurrent sends in other tasks each see their own note.
"""

from __future__ import annotations

import base64
import contextvars
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

from aiohttp import ClientSession, ClientTimeout
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response

log = logging.getLogger(__name__)

_current_note: contextvars.ContextVar[ResponseNote | None] = contextvars.ContextVar(
    "twilio_response_note", default=None
)

MAX_RETRY_AFTER = 3600.0  # a Retry-After beyond an hour is a mistake; the outbox backoff takes over


class ResponseNote:
    """Catches the headers of the Twilio API response received inside a ``with`` block.

    Example::

        with ResponseNote() as note:
            try:
                await client.messages.create_async(...)
            except TwilioRestException:
                wait = note.retry_after()
    """

    def __init__(self) -> None:
        self.headers: Mapping[str, str] | None = None
        self._token: contextvars.Token[ResponseNote | None] | None = None

    def __enter__(self) -> Self:
        self._token = _current_note.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _current_note.reset(self._token)
            self._token = None

    def retry_after(self) -> float | None:
        """The response's ``Retry-After`` in seconds, if it had a usable one."""
        if self.headers is None:
            return None
        return retry_after_seconds(self.headers.get("Retry-After"))


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header (delay in seconds, or an HTTP date) as seconds from now.

    None when absent or unparsable, so the caller's own backoff applies instead of a wrong wait.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def basic_auth_header(username: str, password: str) -> str:
    """The ``Authorization`` value for HTTP basic auth, as ``aiohttp.BasicAuth`` would encode it."""
    credentials = f"{username}:{password}".encode("latin-1", errors="strict")
    return "Basic " + base64.b64encode(credentials).decode("ascii")


class TwilioAioHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """``AsyncTwilioHttpClient`` with a real timeout, no deprecated ``BasicAuth``, and a note.

    Create it inside the running event loop: it opens its aiohttp session at once, as the library's
    does. ``close()`` (inherited) closes it.

    Args:
        timeout: seconds a whole request may take.
    """

    def __init__(self, *, timeout: float) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self.session: ClientSession | None = ClientSession(timeout=ClientTimeout(total=timeout))

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  # the library's signature
        allow_redirects: bool = False,
    ) -> Response:
        """Make one request as the library's client does, with the module docstring's changes."""
        if timeout is not None and timeout <= 0:
            raise ValueError(timeout)
        if self.session is None or self.session.closed:
            raise RuntimeError("the Twilio HTTP client is closed")
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = basic_auth_header(*auth)
        kwargs: dict[str, Any] = {
            "method": method.upper(),
            "url": url,
            "params": params,
            "data": data,
            "headers": headers,
            "timeout": ClientTimeout(total=timeout or self.timeout),
            "allow_redirects": allow_redirects,
        }
        async with self.session.request(**kwargs) as response:
            text = await response.text(errors="replace")
            # One line instead of the library's dozen INFO lines per request; no credentials in it.
            log.debug("twilio %s %s -> %d", method.upper(), url, response.status)
            note = _current_note.get()
            if note is not None:
                note.headers = response.headers
            return Response(response.status, text, response.headers)
