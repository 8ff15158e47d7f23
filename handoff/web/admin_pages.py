"""The console's admin pages: the reports dashboard (``/agent/dashboard``) and the review queue
(``/agent/review``).

Like the console itself they are page shells: the server renders the labels, the CSRF token and the
string dictionary; ``static/dashboard.js`` and ``static/review.js`` fetch the figures and the
review items from ``/api/v1/reports/*`` and ``/api/v1/review`` and draw them (charts as inline SVG)
with ``textContent`` only. Only admins see them: a logged-out visitor is sent to the login page,
an agent who is not an admin gets a 403 page (and no nav entry in the console).

Both pages carry the FAQ catalog (keys and titles in the page's language): the reports name FAQs
by key, and an admin picks the FAQ a question should be added to from it.
"""

from __future__ import annotations

import html
from string import Template

from aiohttp import web

from handoff.principal import AgentRecord
from handoff.web.console import (
    DASHBOARD_PATH,
    REVIEW_PATH,
    TEMPLATES,
    Console,
    admin_nav,
    escaped_texts,
    json_block,
)
from handoff.web.console_text import TEXTS
from handoff.web.faq_source import FaqSource


class AdminPages:
    """The dashboard and review page handlers, sharing the console's session and language."""

    def __init__(self, console: Console, faqs: FaqSource) -> None:
        self._console = console
        self._faqs = faqs
        self._pages = {
            "dashboard": Template((TEMPLATES / "dashboard.html").read_text("utf-8")),
            "review": Template((TEMPLATES / "review.html").read_text("utf-8")),
        }
        self._forbidden = Template((TEMPLATES / "forbidden.html").read_text("utf-8"))

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(DASHBOARD_PATH, self.dashboard)
        app.router.add_get(REVIEW_PATH, self.review)

    async def dashboard(self, request: web.Request) -> web.StreamResponse:
        return await self._render(request, "dashboard", data=await self._faq_list(request))

    async def review(self, request: web.Request) -> web.StreamResponse:
        return await self._render(request, "review", data=await self._faq_list(request))

    async def _faq_list(self, request: web.Request) -> list[dict[str, str]]:
        """The FAQ keys and titles in the page's language (the reports name FAQs by key)."""
        catalog = await self._faqs.catalog()
        language = self._console.language(request)
        return [
            {"key": key, "title": catalog.title(key, language) or key}
            for key in catalog.keys()  # noqa: SIM118 - a catalog, not a dict
        ]

    async def _render(self, request: web.Request, page: str, data: object) -> web.StreamResponse:
        principal = await self._console.session_of(request)
        if principal is None or principal.agent is None or principal.csrf_token is None:
            raise web.HTTPFound("/agent/login")
        language = self._console.language(request)
        texts = TEXTS[language]
        agent = principal.agent
        if not agent.is_admin:
            forbidden = self._forbidden.substitute(
                escaped_texts(texts), lang=language, path=html.escape(request.path)
            )
            response = self._console.page(request, forbidden, language)
            response.set_status(403)
            return response
        body = self._pages[page].substitute(
            escaped_texts(texts),
            lang=language,
            csrf=html.escape(principal.csrf_token),
            display_name=html.escape(agent.display_name),
            admin_nav=admin_nav(texts, page),
            path=html.escape(request.path),
            texts_json=json_block(texts),
            me_json=json_block(_me(agent)),
            data_json=json_block(data),
        )
        return self._console.page(request, body, language)


def _me(agent: AgentRecord) -> dict[str, object]:
    return {"id": agent.id, "display_name": agent.display_name, "is_admin": agent.is_admin}


def add_admin_pages(app: web.Application, console: Console, *, faqs: FaqSource) -> AdminPages:
    """Add the dashboard and the review page next to the console ``console`` serves.

    Args:
        faqs: the FAQ catalog (the review page lists its keys to add a question to); the review
            API checks decisions against the same source.
    """
    pages = AdminPages(console, faqs)
    pages.add_routes(app)
    return pages
