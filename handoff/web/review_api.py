"""``/api/v1/review``: the review queue for the console's review page (admins only).

``GET`` lists the questions the bot failed (fallback, low rating, handoff) newest first, with the
NLU's best guess; ``POST /api/v1/review/{id}`` records an admin's decision: ``added`` to an FAQ of
the catalog (or ``"new"``), or ``dismissed``; ``open`` undoes one. Storage is
:class:`bot.storage.review_queue.SqlReviewQueue`; this module turns requests into its arguments
and its views into JSON, and checks a target FAQ against the catalog the bot answers from.
"""

from __future__ import annotations

from aiohttp import web

from bot.storage.review_queue import NEW_FAQ, REASONS, STATUSES, ReviewDecisionError, SqlReviewQueue
from handoff.desk_errors import InvalidRequest
from handoff.principal import Principal
from handoff.web.api import desk_of, ok
from handoff.web.api_errors import api_error
from handoff.web.auth import authenticate
from handoff.web.faq_source import FAQ_SOURCE
from handoff.web.json_body import json_object, path_id, query_int, string

MAX_LIMIT = 500


async def _admin(request: web.Request) -> tuple[SqlReviewQueue, Principal]:
    principal = await authenticate(request)
    if not principal.is_admin:
        raise api_error("forbidden", "the review queue is for admins")
    return SqlReviewQueue(desk_of(request).database), principal


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query.get(name) or None
    if value is not None and value not in allowed:
        raise InvalidRequest(f"{name}: one of {', '.join(allowed)}")
    return value


async def list_review_items(request: web.Request) -> web.StreamResponse:
    queue, _ = await _admin(request)
    limit = query_int(request, "limit", 100, minimum=1) or 100
    if limit > MAX_LIMIT:
        raise InvalidRequest(f"limit: at most {MAX_LIMIT}")
    items = await queue.items(
        status=_choice(request, "status", STATUSES),
        reason=_choice(request, "reason", REASONS),
        language=request.query.get("language") or None,
        limit=limit,
        before_id=query_int(request, "before", None, minimum=1),
    )
    return ok({"items": [item.as_json() for item in items]})


async def mark_review_item(request: web.Request) -> web.StreamResponse:
    queue, principal = await _admin(request)
    item_id = path_id(request)
    body = await json_object(request)
    unknown = sorted(set(body) - {"status", "target_faq"})
    if unknown:
        raise InvalidRequest(f"{unknown[0]}: not a field of a review decision")
    status = string(body, "status")
    target = string(body, "target_faq", required=False)
    assert status is not None
    if status == "added" and target not in (None, NEW_FAQ):
        catalog = await request.app[FAQ_SOURCE].catalog()
        if target not in catalog:
            raise InvalidRequest(f"target_faq: {target!r} is not an FAQ of the catalog (or 'new')")
    try:
        marked = await queue.mark(
            item_id, status=status, target_faq=target, agent_id=principal.agent_id
        )
    except ReviewDecisionError as exc:
        raise InvalidRequest(str(exc)) from None
    if marked is None:
        raise api_error("not_found", "no such review item")
    return ok(marked.as_json())
