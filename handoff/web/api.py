"""The agent API under ``/api/v1/`` (docs/agent-api.md): handlers and the route table.

Each handler turns the request into plain values, calls the desk with the caller's
:class:`~handoff.principal.Principal` and turns the view it gets back into JSON. The desk
authorises; :func:`desk_errors` maps its errors to the API's JSON errors. The one
list of routes (:mod:`handoff.web.api_routes`), used both to register them and to write
``/api/v1/openapi.json``, so the description cannot miss a route.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from handoff.desk import AgentDesk
from handoff.desk_errors import DeskError, InvalidRequest
from handoff.principal import Principal
from handoff.web.api_errors import from_desk_error
from handoff.web.auth import AUTH, authenticate
from handoff.web.json_body import identifier, json_object, path_id, query_int, string

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DeskOf = Callable[[web.Application], AgentDesk]
DESK_OF: web.AppKey[DeskOf] = web.AppKey("desk_of", DeskOf)  # type: ignore[arg-type]


def desk_of(request: web.Request) -> AgentDesk:
    return request.app[DESK_OF](request.app)


def desk_errors(handler: Handler) -> Handler:
    """Turn the desk's errors into the API's JSON errors."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except DeskError as error:
            raise from_desk_error(error) from None

    return wrapped


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def _caller(request: web.Request) -> tuple[AgentDesk, Principal]:
    return desk_of(request), await authenticate(request)


# ---------------------------------------------------------------------------------- auth


async def create_token(request: web.Request) -> web.StreamResponse:
    body = await json_object(request)
    username = string(body, "username")
    password = string(body, "password")
    assert username is not None and password is not None
    auth = request.app[AUTH]
    agent = await auth.check_login(request, username, password)
    issued = await auth.agents().issue_token(agent, kind="api")
    view = await desk_of(request).me(Principal.for_agent(agent))
    return ok({"token": issued.token, "agent": view.as_json()}, 201)


async def revoke_token(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    if principal.token_id is None:
        raise InvalidRequest("the admin token cannot be revoked through the API")
    await desk.agents.revoke_token(principal.token_id)
    return web.Response(status=204)


# ---------------------------------------------------------------------------------- agents


async def get_me(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    return ok((await desk.me(principal)).as_json())


async def put_my_status(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    status = string(await json_object(request), "status")
    assert status is not None
    return ok((await desk.set_status(principal, status)).as_json())


async def list_agents(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    return ok({"agents": [a.as_json() for a in await desk.list_agents(principal)]})


# ---------------------------------------------------------------------------------- conversations


async def get_queue(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    waiting = await desk.queue(principal)
    return ok({"waiting": [c.as_json() for c in waiting], "count": len(waiting)})


async def list_conversations(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    default_owner = "any" if principal.agent is None else "me"
    states = [s for s in request.query.get("state", "").split(",") if s]
    found = await desk.conversations(
        principal,
        owner=request.query.get("owner", default_owner),
        states=states,
        customer_id=query_int(request, "customer_id", None, minimum=1),
        limit=query_int(request, "limit", 50, minimum=1) or 50,
    )
    return ok({"conversations": [c.as_json() for c in found]})


async def get_conversation(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    return ok((await desk.conversation(principal, path_id(request))).as_json())


async def list_messages(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    found = await desk.messages(
        principal,
        path_id(request),
        after_id=query_int(request, "after", 0) or 0,
        limit=query_int(request, "limit", 100, minimum=1) or 100,
    )
    return ok({"messages": [m.as_json() for m in found]})


async def claim(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    return ok((await desk.claim(principal, path_id(request))).as_json())


async def post_message(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    conversation_id = path_id(request)
    body = await json_object(request)
    message = await desk.reply(
        principal,
        conversation_id,
        text=string(body, "text", required=False),
        canned_reply_id=identifier(body, "canned_reply_id", required=False),
    )
    return ok(message.as_json(), 201)


async def post_note(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    conversation_id = path_id(request)
    text = string(await json_object(request), "text")
    assert text is not None
    return ok((await desk.add_note(principal, conversation_id, text)).as_json(), 201)


async def transfer(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    conversation_id = path_id(request)
    body = await json_object(request)
    if "agent_id" not in body:
        raise InvalidRequest("agent_id: required (an agent's id, or null for the queue)")
    agent_id = identifier(body, "agent_id", required=False)
    return ok((await desk.transfer(principal, conversation_id, agent_id)).as_json())


async def release(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    return ok((await desk.release(principal, path_id(request))).as_json())


async def resolve(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    return ok((await desk.resolve(principal, path_id(request))).as_json())


async def get_customer(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    customer, conversations = await desk.customer(principal, path_id(request))
    return ok(
        {"customer": customer.as_json(), "conversations": [c.as_json() for c in conversations]}
    )


# ---------------------------------------------------------------------------------- canned replies


async def list_canned_replies(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    found = await desk.canned_replies(principal, request.query.get("language") or None)
    return ok({"canned_replies": [c.as_json() for c in found]})


async def create_canned_reply(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    body = await json_object(request)
    shortcut, title, text = (string(body, k) for k in ("shortcut", "title", "text"))
    assert shortcut is not None and title is not None and text is not None
    created = await desk.add_canned_reply(
        principal,
        shortcut=shortcut,
        title=title,
        text=text,
        language=string(body, "language", required=False),
    )
    return ok(created.as_json(), 201)


async def update_canned_reply(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    reply_id = path_id(request)
    body = await json_object(request)
    changes: dict[str, Any] = {}
    for key in ("shortcut", "title", "text"):
        if key in body:
            changes[key] = string(body, key)
    if "language" in body:
        changes["language"] = string(body, "language", required=False)
    unknown = sorted(set(body) - {"shortcut", "title", "text", "language"})
    if unknown:
        raise InvalidRequest(f"{unknown[0]}: not a field of a canned reply")
    return ok((await desk.update_canned_reply(principal, reply_id, **changes)).as_json())


async def delete_canned_reply(request: web.Request) -> web.StreamResponse:
    desk, principal = await _caller(request)
    await desk.delete_canned_reply(principal, path_id(request))
    return web.Response(status=204)


__all__ = ["DESK_OF", "desk_errors", "desk_of"]
