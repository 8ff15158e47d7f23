"""python-telegram-bot's HTTP transport on aiohttp instead of httpx.

python-telegram-bot lets a :class:`~telegram.request.BaseRequest` subclass carry its requests. Its
default, ``HTTPXRequest``, cost the gateway about 5 ms of CPU per ``sendMessage`` (bench/webhooks.py
under py-spy: httpx and httpcore's per-request bookkeeping, including a failed ``import sniffio``
on every request, which searches ``sys.path`` each time), which on a busy gateway was more CPU
than accepting the webhooks. The gateway already runs aiohttp for everything else, and aiohttp's
client does the same POST for a fraction of that, on the same event loop.

The class honours python-telegram-bot's contract: form-encoded parameters (or multipart when files
are sent), the four timeouts, :class:`~telegram.error.TimedOut` for timeouts and
:class:`~telegram.error.NetworkError` for connection failures, and ``(status, body)`` for every
answer, which the library turns into ``RetryAfter``, ``Forbidden`` and the rest.
"""

from __future__ import annotations

from typing import Any

import aiohttp

# The marker type python-telegram-bot uses for "not given"; its own HTTPXRequest tests it the same
# way. Private by name, but stable since v20.
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

USER_AGENT = "carebot (python-telegram-bot transport on aiohttp)"


class AiohttpRequest(BaseRequest):
    """A python-telegram-bot transport over one :class:`aiohttp.ClientSession`.

    Args:
        connection_pool_size: most connections open at once (requests beyond wait for one).
        read_timeout, write_timeout, connect_timeout, pool_timeout: default timeouts in seconds,
            used when a call does not give its own. aiohttp has no write timeout: the write
            timeout is accepted for the interface and not applied (Bot API requests are small;
            the read timeout still bounds a stalled server).
    """

    __slots__ = ("_defaults", "_limit", "_session")

    def __init__(
        self,
        *,
        connection_pool_size: int = 64,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._limit = connection_pool_size
        self._defaults = (read_timeout, write_timeout, connect_timeout, pool_timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._defaults[0]

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit),
                headers={"User-Agent": USER_AGENT},
            )

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            # httpx's client exists from construction on; callers that skip initialize() (the
            # bot is usable before it) must work here too. aiohttp needs the running loop for it.
            await self.initialize()
        session = self._session
        assert session is not None
        read, _write, connect, pool = (
            default if _is_default(given) else given
            for given, default in zip(
                (read_timeout, write_timeout, connect_timeout, pool_timeout),
                self._defaults,
                strict=True,
            )
        )
        timeout = aiohttp.ClientTimeout(
            total=None,
            # Waiting for a free connection counts against the pool timeout, as in httpx.
            connect=None if connect is None and pool is None else (connect or 0) + (pool or 0),
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with session.request(
                method, url, data=_body(request_data), timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc


def _is_default(value: Any) -> bool:
    return isinstance(value, DefaultValue)


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """Form fields for the parameters; multipart with the files when there are any."""
    if request_data is None:
        return None
    parameters = request_data.json_parameters
    files = request_data.multipart_data
    if not files:
        return parameters
    form = aiohttp.FormData()
    for name, value in parameters.items():
        form.add_field(name, value)
    for name, part in files.items():
        filename, content, *content_type = part
        form.add_field(
            name,
            content,
            filename=filename,
            content_type=content_type[0] if content_type else "application/octet-stream",
        )
    return form
