"""``/api/v1/reports/*``: the figures of ``carebot report`` for the console's dashboard.

Admins only (the admin token or an admin agent): the figures cover every agent's work. Query
parameters are those of the command (``since``, ``until``, ``channel``, ``language``, ``agent``,
``faq``, ``business_hours``) and are validated by the same function, so a WHEN means the same in
both places; a bad one is a 400 ``invalid_request``.
"""

from __future__ import annotations

from aiohttp import web

from bot.report_command import ReportCommandError, build_scope
from bot.reports.periods import PeriodError
from bot.reports.report_reader import ReportReader
from bot.reports.turns import ReportScope
from handoff.web.api import desk_of, ok
from handoff.web.api_errors import api_error
from handoff.web.auth import authenticate


async def _scope(request: web.Request) -> tuple[ReportReader, ReportScope]:
    principal = await authenticate(request)
    if not principal.is_admin:
        raise api_error("forbidden", "reports are for admins")
    desk = desk_of(request)
    query = request.query
    agent = query.get("agent")
    if agent is not None and not agent.isdigit():
        raise api_error("invalid_request", "agent: an agent id")
    try:
        scope = build_scope(
            desk.behaviour,
            since=query.get("since"),
            until=query.get("until"),
            channel=query.get("channel"),
            language=query.get("language"),
            agent_id=int(agent) if agent is not None else None,
            faq_key=query.get("faq"),
            business_hours=query.get("business_hours", "false").lower() in ("1", "true", "yes"),
        )
    except ReportCommandError as exc:
        raise api_error("invalid_request", str(exc)) from None
    return ReportReader(desk.database), scope


async def get_summary(request: web.Request) -> web.StreamResponse:
    reader, scope = await _scope(request)
    return ok(await reader.summary(scope))


async def get_timeseries(request: web.Request) -> web.StreamResponse:
    reader, scope = await _scope(request)
    unit = request.query.get("bucket", "day")
    if unit not in ("hour", "day"):
        raise api_error("invalid_request", "bucket: hour or day")
    try:
        return ok(await reader.timeseries(scope, unit))
    except PeriodError as exc:
        raise api_error("invalid_request", str(exc)) from None


async def get_faqs(request: web.Request) -> web.StreamResponse:
    reader, scope = await _scope(request)
    limit = request.query.get("limit", "50")
    if not limit.isdigit() or int(limit) < 1:
        raise api_error("invalid_request", "limit: a positive integer")
    return ok(await reader.faqs(scope, int(limit)))
