"""Mounting the agent desk's web edge: the ``/api/v1/`` API, its description, login and logout.

:func:`attach_agent_desk` is the one call the app factory makes for them. Other web modules
authenticate with :func:`handoff.web.auth.authenticate` (API requests) and
:func:`handoff.web.auth.console_session` (console pages), and reach the desk with
:func:`handoff.web.api.desk_of`.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bot.settings import Settings
from handoff.desk import AgentDesk
from handoff.web.api import DESK_OF
from handoff.web.api_routes import add_api_routes
from handoff.web.auth import AUTH, DeskAuth, LoginThrottle, login, logout
from handoff.web.openapi import EVENTS_PATH, OPENAPI, openapi_document, openapi_json


def attach_agent_desk(
    app: web.Application,
    settings: Settings,
    desk: Callable[[web.Application], AgentDesk],
    *,
    throttle: LoginThrottle | None = None,
) -> None:
    """Add the API, its OpenAPI description, login and logout to ``app``.

    Args:
        desk: returns the running desk (the pipeline's), which exists once the app has started.
        throttle: the failed-login limit (tests pass a stricter or looser one).
    """
    admin = settings.admin_token.get_secret_value() if settings.admin_token else None
    app[DESK_OF] = desk
    app[AUTH] = DeskAuth(
        agents=lambda: desk(app).agents,
        admin_token=admin or None,
        secure_cookies=settings.public_url.startswith("https://"),
        throttle=throttle or LoginThrottle(),
    )
    app[OPENAPI] = openapi_document(EVENTS_PATH)
    add_api_routes(app)
    app.router.add_get("/api/v1/openapi.json", openapi_json)
    app.router.add_post("/agent/login", login)
    app.router.add_post("/agent/logout", logout)
