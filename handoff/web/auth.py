"""Who is calling: bearer tokens, the admin token and console sessions with CSRF protection.

For the other web modules (the console pages, the event stream) two functions are the whole
interface:

* :func:`authenticate` — the request's :class:`~handoff.principal.Principal`, or a JSON 401
  (``unauthorized``) / 403 (``csrf_failed``). Bearer tokens (``Authorization: Bearer ...``: an
  agent's API token or ``CAREBOT_ADMIN_TOKEN``) need no CSRF token; a ``carebot_session`` cookie
  needs header ``X-CSRF-Token`` equal to the session's CSRF token on POST/PUT/PATCH/DELETE.
* :func:`console_session` — the console session behind the cookie (an agent principal whose
  ``csrf_token`` is the one to render into ``<meta name="csrf-token">``), or None; never raises,
  so a page handler can redirect to the login page instead.

Login and logout (``POST /agent/login``, ``POST /agent/logout``) are here too. The login form is
protected against login CSRF by a double-submit cookie (``carebot_login_csrf``, set by the login
page, equal to the form's ``csrf`` field). Failed logins are limited per client address.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from handoff.agent_store import SqlAgentStore
from handoff.credentials import same_secret
from handoff.principal import AgentRecord, Principal
from handoff.web.api_errors import api_error

log = logging.getLogger(__name__)

SESSION_COOKIE = "carebot_session"
LOGIN_CSRF_COOKIE = "carebot_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PRINCIPAL_KEY: web.RequestKey[Principal] = web.RequestKey("carebot_principal", Principal)


class LoginThrottle:
    """At most ``limit`` failed logins per client address within ``window`` seconds.

    In memory, per process: enough to make password guessing slow; the oldest addresses are
    forgotten beyond ``max_addresses`` so a flood of addresses cannot exhaust memory.
    """

    def __init__(
        self,
        *,
        limit: int = 10,
        window: float = 300.0,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window
        self._max = max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.get(address)
        if failures is None:
            return deque()
        cutoff = self._clock() - self._window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures

    def blocked(self, address: str) -> bool:
        return len(self._recent(address)) >= self._limit

    def failed(self, address: str) -> None:
        failures = self._recent(address)
        failures.append(self._clock())
        self._failures[address] = failures
        self._failures.move_to_end(address)
        while len(self._failures) > self._max:
            self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


@dataclass
class DeskAuth:
    """The authentication state of one app: where agents live, the admin token, the throttle."""

    agents: Callable[[], SqlAgentStore]
    admin_token: str | None
    secure_cookies: bool
    throttle: LoginThrottle

    async def principal(self, request: web.Request) -> Principal:
        """See :func:`authenticate`."""
        cached = request.get(_PRINCIPAL_KEY)
        if isinstance(cached, Principal):
            return cached
        header = request.headers.get("Authorization")
        if header is not None:
            principal = await self._bearer(header)
        else:
            principal = await self._checked_session(request)
        request[_PRINCIPAL_KEY] = principal
        return principal

    async def _checked_session(self, request: web.Request) -> Principal:
        principal = await self._session(request.cookies.get(SESSION_COOKIE))
        if principal is None:
            raise _unauthorized("authentication required: a bearer token or a session")
        if request.method in UNSAFE_METHODS:
            given = request.headers.get(CSRF_HEADER, "")
            expected = principal.csrf_token or ""
            if not given or not expected or not same_secret(given, expected):
                raise api_error("csrf_failed", f"missing or wrong {CSRF_HEADER} header")
        return principal

    async def _bearer(self, header: str) -> Principal:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("expected Authorization: Bearer <token>")
        if self.admin_token and same_secret(token, self.admin_token):
            return Principal.admin_token()
        owner = await self.agents().resolve_token(token)
        if owner is None or owner.kind != "api":
            raise _unauthorized("unknown, expired or revoked token")
        return Principal(owner.agent, "api", owner.token_id)

    async def _session(self, cookie: str | None) -> Principal | None:
        if not cookie:
            return None
        owner = await self.agents().resolve_token(cookie)
        if owner is None or owner.kind != "session":
            return None
        return Principal(owner.agent, "session", owner.token_id, owner.csrf_token)

    async def console_session(self, request: web.Request) -> Principal | None:
        """See :func:`console_session`."""
        try:
            return await self._session(request.cookies.get(SESSION_COOKIE))
        except Exception:  # a database hiccup must not turn a page into a 500
            log.exception("session lookup failed")
            return None

    async def check_login(self, request: web.Request, username: str, password: str) -> AgentRecord:
        """The agent with these credentials, counting failures per address.

        Raises the API's 429 ``rate_limited`` while the address is blocked, 401 when wrong.
        """
        address = request.remote or "unknown"
        if self.throttle.blocked(address):
            raise api_error("rate_limited", "too many failed logins; try again in a few minutes")
        agent = await self.agents().check_password(username, password)
        if agent is None:
            self.throttle.failed(address)
            log.info("failed login from %s", address)
            raise _unauthorized("wrong username or password")
        self.throttle.succeeded(address)
        return agent


AUTH: web.AppKey[DeskAuth] = web.AppKey("desk_auth", DeskAuth)


def _unauthorized(message: str) -> web.HTTPException:
    return api_error("unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(request: web.Request) -> Principal:
    """The caller of ``request``, or raise the API's JSON 401 / 403 ``csrf_failed``.

    Checks, in order: ``Authorization: Bearer`` (the admin token, else an agent's API token),
    then the ``carebot_session`` cookie, which on unsafe methods also needs ``X-CSRF-Token``.
    The result is cached on the request.
    """
    return await request.app[AUTH].principal(request)


async def console_session(request: web.Request) -> Principal | None:
    """The console session (cookie) behind ``request``, or None; never raises.

    The principal's ``agent`` is the logged-in agent and ``csrf_token`` the token that unsafe
    requests of this session must send as ``X-CSRF-Token``.
    """
    return await request.app[AUTH].console_session(request)


# ---------------------------------------------------------------------------------- login/logout


def _wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _to_login(error: str) -> web.HTTPException:
    return web.HTTPSeeOther(f"/agent/login?error={error}")


async def login(request: web.Request) -> web.StreamResponse:
    """``POST /agent/login`` (form: username, password, csrf): start a console session.

    A browser (``Accept: text/html``) is redirected to ``/agent/`` or back to the login page with
    ``?error=failed|rate_limited|csrf``; other clients get JSON (200 with ``csrf_token`` and
    ``agent``, or the API's 401/403/429).
    """
    auth = request.app[AUTH]
    html = _wants_html(request)
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise api_error("unsupported_media_type", "expected a form post")
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise api_error("too_large", "request body too large") from None
    except (ValueError, UnicodeDecodeError):
        raise api_error("invalid_request", "malformed form") from None
    username, password, csrf = (form.get(k) for k in ("username", "password", "csrf"))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not isinstance(csrf, str) or not expected or not same_secret(csrf, expected):
        if html:
            raise _to_login("csrf")
        raise api_error("csrf_failed", "the login form's csrf field does not match its cookie")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        if html:
            raise _to_login("failed")
        raise api_error("invalid_request", "username and password: required")
    try:
        agent = await auth.check_login(request, username, password)
    except web.HTTPException as exc:
        if html:
            raise _to_login("rate_limited" if exc.status == 429 else "failed") from None
        raise
    issued = await auth.agents().issue_token(agent, kind="session")
    log.info("agent %s logged in", agent.id)
    if html:
        response = _see_other("/agent/")
    else:
        response = web.json_response(
            {"csrf_token": issued.csrf_token, "agent": {"id": agent.id, "username": agent.username}}
        )
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=auth.secure_cookies,
    )
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/agent")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """``POST /agent/logout``: end the session. CSRF token in ``X-CSRF-Token`` or form ``csrf``."""
    auth = request.app[AUTH]
    principal = await auth.console_session(request)
    if principal is not None:
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type == "application/x-www-form-urlencoded":
            field = (await request.post()).get("csrf")
            given = field if isinstance(field, str) else None
        if not given or not same_secret(given, principal.csrf_token or ""):
            raise api_error("csrf_failed", f"missing or wrong {CSRF_HEADER}")
        assert principal.token_id is not None
        await auth.agents().revoke_token(principal.token_id)
    response = _see_other("/agent/login") if _wants_html(request) else web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response
