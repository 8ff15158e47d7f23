"""The gateway's HTTP client for a Rasa server: ``POST /model/parse`` and ``GET /status``.

Rasa runs as its own process from ``.venv-rasa`` (it pins aiohttp, SQLAlchemy and twilio versions
the gateway cannot share), so the gateway only ever talks to it over HTTP. This module turns Rasa's
JSON into the channel-neutral :class:`~bot.messages.NluResult` and every failure into
:class:`~bot.interfaces.NluUnavailable`, so the engine has exactly one thing to handle when Rasa is
down, slow or confused: hand the conversation off.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import aiohttp

from bot.interfaces import NluUnavailable
from bot.messages import NluResult, RankedIntent
from bot.settings import NluBehaviour

logger = logging.getLogger(__name__)

#: The retrieval intent whose ResponseSelector output carries the FAQ key (see nlu/config.yml).
FAQ_RETRIEVAL_INTENT = "faq"

# Rasa files a ResponseSelector's prediction under its retrieval intent, or under "default" when the
# selector was configured without ``retrieval_intent``.
_DEFAULT_SELECTOR_KEY = "default"


class MalformedRasaAnswer(NluUnavailable):
    """Rasa's JSON does not have the shape we rely on; never retried, because it will not change."""


class _RetryableError(Exception):
    """A failure worth another attempt: connection refused or reset, timeout, HTTP 5xx."""


class RasaNluClient:
    """Understands texts by asking a Rasa server; implements :class:`bot.interfaces.NluClient`.

    One :class:`aiohttp.ClientSession` (and so one keep-alive connection pool) serves every call:
    creating a session per request would cost a TCP handshake and a new pool on the hot path of
    every customer message. The session is created lazily on the first call, inside the running
    event loop, unless one is passed in; a passed-in session belongs to the caller, who closes it.

    Retries are deliberately few and short: the engine hands the conversation off when NLU is
    unavailable, so waiting long for a sick Rasa only delays the holding message the customer gets.

    Args:
        base_url: the Rasa HTTP API, e.g. ``http://127.0.0.1:5005``.
        timeout: seconds one attempt may take, connection included.
        retries: extra attempts after the first, only for connection errors, timeouts and 5xx.
        backoff: seconds before the first retry; doubled for each further retry.
        session: an existing session to use instead of creating one.
        retrieval_intent: the retrieval intent whose response key becomes ``NluResult.faq_key``.
        pool_size: the maximum number of simultaneous connections to Rasa in the owned session.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 3.0,
        retries: int = 1,
        backoff: float = 0.05,
        session: aiohttp.ClientSession | None = None,
        retrieval_intent: str = FAQ_RETRIEVAL_INTENT,
        pool_size: int = 32,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if retries < 0:
            raise ValueError("retries must not be negative")
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retries = retries
        self._backoff = backoff
        self._session = session
        self._owns_session = session is None
        self._retrieval_intent = retrieval_intent
        self._pool_size = pool_size

    @classmethod
    def from_settings(
        cls, rasa_url: str, behaviour: NluBehaviour, *, session: aiohttp.ClientSession | None = None
    ) -> RasaNluClient:
        """A client with the timeout and retries of the behaviour file's ``nlu`` section.

        Args:
            rasa_url: ``Settings.rasa_url``.
            behaviour: ``Behaviour.nlu``.
            session: an existing session to share, if any.
        """
        return cls(
            rasa_url,
            timeout=behaviour.timeout.total_seconds(),
            retries=behaviour.retries,
            session=session,
        )

    @property
    def base_url(self) -> str:
        """The Rasa HTTP API this client talks to."""
        return self._base_url

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it; safe to call more than once."""
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def parse(self, text: str) -> NluResult:
        """Ask Rasa what ``text`` means.

        Args:
            text: the customer's text, sent as is.

        Returns:
            The top intent, its confidence, the intent ranking and, when the top intent is the FAQ
            retrieval intent, the FAQ's response key (``faq/shipping_cost``) and its confidence.

        Raises:
            NluUnavailable: Rasa could not be reached, timed out, answered with an error status
                after the retries, or answered something that is not a parse result.
        """
        url = f"{self._base_url}/model/parse"
        body = await self._request_json("POST", url, json={"text": text})
        try:
            return parse_result_from_json(text, body, retrieval_intent=self._retrieval_intent)
        except MalformedRasaAnswer as exc:
            raise MalformedRasaAnswer(
                f"Rasa at {self._base_url} sent a malformed parse result: {exc}"
            ) from exc

    async def ready(self) -> bool:
        """True when Rasa answers ``GET /status`` with a loaded model (for ``/readyz``).

        Never raises for an unavailable server: readiness is a yes/no question, and a probe that
        throws would turn "Rasa is down" into a 500 of the gateway's own.
        """
        try:
            body = await self._request_json("GET", f"{self._base_url}/status", retry=False)
        except NluUnavailable as exc:
            logger.debug("Rasa is not ready: %s", exc)
            return False
        return isinstance(body, Mapping) and bool(body.get("model_file"))

    # ----------------------------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise NluUnavailable("the aiohttp session given to RasaNluClient is closed")
            connector = aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(connector=connector, raise_for_status=False)
        return self._session

    async def _request_json(
        self, method: str, url: str, *, json: Any = None, retry: bool = True
    ) -> Any:
        """Send one request with the bounded retry policy and return its decoded JSON body."""
        attempts = 1 + (self._retries if retry else 0)
        last_error = "no attempt made"
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                return await self._attempt(method, url, json)
            except _RetryableError as exc:
                last_error = str(exc)
                logger.debug("Rasa attempt %d/%d failed: %s", attempt + 1, attempts, last_error)
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        raise NluUnavailable(f"Rasa at {self._base_url} is unavailable{tries}: {last_error}")

    async def _attempt(self, method: str, url: str, json: Any) -> Any:
        session = self._get_session()
        seconds = self._timeout.total
        try:
            async with session.request(method, url, json=json, timeout=self._timeout) as response:
                if response.status >= 500:
                    detail = (await response.text(errors="replace"))[:200]
                    raise _RetryableError(f"HTTP {response.status} from {url}: {detail}")
                if response.status != 200:
                    detail = (await response.text(errors="replace"))[:200]
                    raise NluUnavailable(f"Rasa answered HTTP {response.status} to {url}: {detail}")
                try:
                    return await response.json(content_type=None)
                except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError
                    raise MalformedRasaAnswer(
                        f"Rasa sent a body that is not JSON from {url}"
                    ) from exc
        except TimeoutError as exc:
            raise _RetryableError(f"no answer from {url} within {seconds:g} s") from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            # Refused, reset, or dropped mid-answer: a restarting Rasa looks like this.
            raise _RetryableError(f"cannot reach {url} ({type(exc).__name__}: {exc})") from exc
        except aiohttp.ClientError as exc:
            raise NluUnavailable(f"request to {url} failed ({type(exc).__name__}: {exc})") from exc


def parse_result_from_json(
    text: str, body: Any, *, retrieval_intent: str = FAQ_RETRIEVAL_INTENT
) -> NluResult:
    """Map Rasa's ``/model/parse`` JSON to an :class:`NluResult`.

    Public so that tools replaying recorded answers (benchmarks, tests) map them exactly as the
    client does. ``faq_key`` is only set when the top intent is the retrieval intent: the
    ResponseSelector always names its best FAQ, even for "hello", and a key next to a non-FAQ intent
    would invite the engine to answer a greeting with an FAQ.

    Args:
        text: the text that was parsed.
        body: the decoded JSON answer.
        retrieval_intent: the retrieval intent configured in the ResponseSelector.

    Raises:
        MalformedRasaAnswer: a field we rely on is missing or has the wrong type.
    """
    if not isinstance(body, Mapping):
        raise MalformedRasaAnswer(f"expected a JSON object, got {type(body).__name__}")
    intent = body.get("intent")
    if intent is None:
        intent = {}
    if not isinstance(intent, Mapping):
        raise MalformedRasaAnswer("'intent' is not an object")
    name = _optional_str(intent.get("name"), "intent.name")
    confidence = _confidence(intent.get("confidence", 0.0), "intent.confidence") if name else 0.0

    raw_ranking = body.get("intent_ranking") or []
    if not isinstance(raw_ranking, list):
        raise MalformedRasaAnswer("'intent_ranking' is not a list")
    ranking: list[RankedIntent] = []
    for position, entry in enumerate(raw_ranking):
        if not isinstance(entry, Mapping):
            raise MalformedRasaAnswer(f"intent_ranking[{position}] is not an object")
        entry_name = _optional_str(entry.get("name"), f"intent_ranking[{position}].name")
        if entry_name is None:
            raise MalformedRasaAnswer(f"intent_ranking[{position}] has no name")
        entry_confidence = _confidence(entry.get("confidence"), f"intent_ranking[{position}]")
        ranking.append(RankedIntent(entry_name, entry_confidence))

    faq_key: str | None = None
    faq_confidence = 0.0
    if name == retrieval_intent:
        faq_key, faq_confidence = _selected_response(body, retrieval_intent)

    return NluResult(
        text=text,
        intent=name,
        confidence=confidence,
        faq_key=faq_key,
        faq_confidence=faq_confidence,
        ranking=tuple(ranking),
    )


def _selected_response(body: Mapping[str, Any], retrieval_intent: str) -> tuple[str | None, float]:
    """The ResponseSelector's pick for the retrieval intent, or ``(None, 0.0)`` if it made none."""
    selectors = body.get("response_selector")
    if selectors is None:
        return None, 0.0
    if not isinstance(selectors, Mapping):
        raise MalformedRasaAnswer("'response_selector' is not an object")
    name = retrieval_intent if retrieval_intent in selectors else _DEFAULT_SELECTOR_KEY
    if name not in selectors:
        return None, 0.0
    selector = selectors[name]
    where = f"response_selector.{name}.response"
    response = selector.get("response") if isinstance(selector, Mapping) else None
    if not isinstance(response, Mapping):
        raise MalformedRasaAnswer(f"'{where}' is not an object")
    key = _optional_str(response.get("intent_response_key"), f"{where}.intent_response_key")
    if key is None:
        return None, 0.0
    return key, _confidence(response.get("confidence"), f"{where}.confidence")


def _optional_str(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise MalformedRasaAnswer(f"'{where}' is not a string")


def _confidence(value: Any, where: str) -> float:
    # bool is an int subclass; True is not a confidence.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MalformedRasaAnswer(f"'{where}' is not a finite number")
    return float(value)
