"""The agent console at ``/agent/``: server-rendered page shells plus one script, no build step.

The server renders the login page and the console's shell (labels in the agent's language, the
session's CSRF token in ``<meta name="csrf-token">``, the agent and the whole string dictionary as
JSON data blocks); ``static/console.js`` does the rest through the same ``/api/v1`` calls and live
events any integration uses, building the DOM with ``textContent`` only, so no customer text is
ever parsed as HTML. A strict Content-Security-Policy (scripts and styles from this origin only)
backs that up.

The interface language comes from ``?lang=`` (saved in a cookie), else the saved choice, else the
browser's ``Accept-Language``.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from string import Template
from typing import Any

from aiohttp import web

from handoff.principal import Principal
from handoff.web.console_text import TEXTS, choose_language

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
LANGUAGE_COOKIE = "carebot_lang"
LOGIN_CSRF_COOKIE = "carebot_login_csrf"
_LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
DASHBOARD_PATH = "/agent/dashboard"
REVIEW_PATH = "/agent/review"

#: The console session behind a request, or None (the desk's auth helper; never raises).
SessionLookup = Callable[[web.Request], Awaitable[Principal | None]]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def json_block(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: ``<`` can never close the tag."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def admin_nav(texts: Mapping[str, str], current: str | None = None) -> str:
    """The admin pages' entries of the top bar (HTML): rendered for admins only."""
    links = ((DASHBOARD_PATH, "tab-dashboard", "dashboard"), (REVIEW_PATH, "tab-review", "review"))
    return "".join(
        f'<a href="{path}" id="{ident}"'
        + (' class="active" aria-current="page"' if key == current else "")
        + f">{html.escape(texts[key])}</a>"
        for path, ident, key in links
    )


class Console:
    """The console's page handlers."""

    def __init__(self, session_of: SessionLookup, *, secure_cookies: bool) -> None:
        self.session_of = session_of
        self._secure = secure_cookies
        self._login = Template((TEMPLATES / "login.html").read_text("utf-8"))
        self._shell = Template((TEMPLATES / "console.html").read_text("utf-8"))

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/agent", self.to_console)
        app.router.add_get("/agent/", self.console)
        app.router.add_get("/agent/login", self.login_page)
        app.router.add_static("/agent/static/", STATIC, append_version=False)

    async def to_console(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/agent/")

    async def console(self, request: web.Request) -> web.StreamResponse:
        principal = await self.session_of(request)
        if principal is None or principal.agent is None or principal.csrf_token is None:
            raise web.HTTPFound("/agent/login")
        language = self.language(request)
        texts = TEXTS[language]
        agent = principal.agent
        me = {
            "id": agent.id,
            "username": agent.username,
            "display_name": agent.display_name,
            "is_admin": agent.is_admin,
            "status": agent.status,
            "languages": list(agent.languages),
        }
        page = self._shell.substitute(
            escaped_texts(texts),
            lang=language,
            csrf=html.escape(principal.csrf_token),
            display_name=html.escape(agent.display_name),
            texts_json=json_block(texts),
            me_json=json_block(me),
            admin_nav=admin_nav(texts) if agent.is_admin else "",
        )
        return self.page(request, page, language)

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        principal = await self.session_of(request)
        if principal is not None and principal.agent is not None:
            raise web.HTTPFound("/agent/")
        language = self.language(request)
        texts = TEXTS[language]
        error = {"failed": "login_failed", "rate_limited": "login_rate_limited"}.get(
            request.query.get("error", "")
        )
        csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        page = self._login.substitute(
            escaped_texts(texts),
            lang=language,
            csrf=html.escape(csrf),
            error=f'<p class="error" role="alert">{html.escape(texts[error])}</p>' if error else "",
        )
        response = self.page(request, page, language)
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            csrf,
            path="/agent",
            httponly=True,
            samesite="Strict",
            secure=self._secure,
        )
        return response

    def language(self, request: web.Request) -> str:
        return choose_language(
            request.query.get("lang"),
            request.cookies.get(LANGUAGE_COOKIE),
            request.headers.get("Accept-Language", ""),
        )

    def page(self, request: web.Request, page: str, language: str) -> web.Response:
        response = web.Response(
            text=page, content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS
        )
        if request.query.get("lang") == language:
            response.set_cookie(
                LANGUAGE_COOKIE,
                language,
                max_age=_LANGUAGE_COOKIE_AGE,
                path="/agent",
                samesite="Strict",
                secure=self._secure,
            )
        return response


def escaped_texts(texts: Mapping[str, str]) -> dict[str, str]:
    return {key: html.escape(value) for key, value in texts.items()}


def add_console_routes(
    app: web.Application, session_of: SessionLookup, *, secure_cookies: bool
) -> Console:
    console = Console(session_of, secure_cookies=secure_cookies)
    console.add_routes(app)
    return console
