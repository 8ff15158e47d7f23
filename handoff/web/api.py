"""The agent API under ``/api/v1/`` (docs/agent-api.md): handlers and the route table.

Each handler turns the request into plain values, calls the desk with the caller's
:class:`~handoff.principal.Principal` and turns the view it gets back into JSON. The desk
authorises; :func:`desk_errors` maps its errors to the API's JSON errors. :data:`ROUTES` is the one
list of routes, used both to register them and to write ``/api/v1/openapi.json``, so the
description cannot miss a route.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from handoff.desk import AgentDesk
from handoff.desk_errors import DeskError, InvalidRequest
from handoff.principal import Principal
from handoff.web.api_errors import api_error, from_desk_error
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


# ---------------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Param:
    """A query parameter, for the OpenAPI description."""

    name: str
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True)
class ApiRoute:
    """One API operation: how it is served and how it is described.

    Attributes:
        body: the request body's component schema name, if it takes one.
        response: the success status and its component schema name (None: no body).
        errors: the error statuses it may answer besides 401 (added for every authenticated one).
        owner_only: only the owner (or an admin) may act; another agent gets 403.
    """

    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    response: tuple[int, str | None]
    body: str | None = None
    authenticated: bool = True
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    owner_only: bool = False


_LIMIT = Param("limit", {"type": "integer", "minimum": 1}, "how many at most")

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "POST",
        "/api/v1/auth/token",
        create_token,
        "createToken",
        "Exchange a username and password for an API token",
        (201, "TokenCreated"),
        body="Credentials",
        authenticated=False,
        errors=(400, 401, 415, 429),
    ),
    ApiRoute(
        "DELETE",
        "/api/v1/auth/token",
        revoke_token,
        "revokeToken",
        "Revoke the token used for this call",
        (204, None),
        errors=(400,),
    ),
    ApiRoute(
        "GET", "/api/v1/me", get_me, "getMe", "The calling agent", (200, "Agent"), errors=(403,)
    ),
    ApiRoute(
        "PUT",
        "/api/v1/me/status",
        put_my_status,
        "setMyStatus",
        "Become available or away; becoming available may assign waiting conversations",
        (200, "Agent"),
        body="StatusChange",
        errors=(400, 403, 415),
    ),
    ApiRoute(
        "GET",
        "/api/v1/agents",
        list_agents,
        "listAgents",
        "Agents (transfer targets)",
        (200, "AgentList"),
    ),
    ApiRoute(
        "GET",
        "/api/v1/queue",
        get_queue,
        "getQueue",
        "Waiting conversations: the caller's languages first, then longest wait first",
        (200, "Queue"),
    ),
    ApiRoute(
        "GET",
        "/api/v1/conversations",
        list_conversations,
        "listConversations",
        "Conversations, most recently active first",
        (200, "ConversationList"),
        errors=(400, 403),
        params=(
            Param("owner", {"type": "string", "enum": ["me", "any"]}, "whose (default: me)"),
            Param("state", {"type": "string"}, "comma-separated states: bot,waiting,agent,closed"),
            Param("customer_id", {"type": "integer", "minimum": 1}, "one customer's"),
            _LIMIT,
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v1/conversations/{id}",
        get_conversation,
        "getConversation",
        "One conversation",
        (200, "Conversation"),
        errors=(404,),
    ),
    ApiRoute(
        "GET",
        "/api/v1/conversations/{id}/messages",
        list_messages,
        "listMessages",
        "A conversation's messages after a message id, oldest first, notes included",
        (200, "MessageList"),
        errors=(400, 404),
        params=(
            Param("after", {"type": "integer", "minimum": 0}, "only messages with a larger id"),
            _LIMIT,
        ),
    ),
    ApiRoute(
        "POST",
        "/api/v1/conversations/{id}/claim",
        claim,
        "claimConversation",
        "Take a waiting conversation; 409 already_claimed if someone else was first",
        (200, "Conversation"),
        errors=(403, 404, 409),
    ),
    ApiRoute(
        "POST",
        "/api/v1/conversations/{id}/messages",
        post_message,
        "sendMessage",
        "Reply to the customer (queued in the outbox); text or a canned reply",
        (201, "Message"),
        body="NewMessage",
        errors=(400, 403, 404, 409, 413, 415),
        owner_only=True,
    ),
    ApiRoute(
        "POST",
        "/api/v1/conversations/{id}/notes",
        post_note,
        "addNote",
        "Add a private note (never sent)",
        (201, "Message"),
        body="NewNote",
        errors=(400, 403, 404, 409, 413, 415),
        owner_only=True,
    ),
    ApiRoute(
        "POST",
        "/api/v1/conversations/{id}/transfer",
        transfer,
        "transferConversation",
        "Give the conversation to another agent, or back to the queue with agent_id null",
        (200, "Conversation"),
        body="Transfer",
        errors=(400, 403, 404, 409, 415),
        owner_only=True,
    ),
    ApiRoute(
        "POST",
        "/api/v1/conversations/{id}/release",
        release,
        "releaseConversation",
        "Hand the conversation back to the bot",
        (200, "Conversation"),
        errors=(403, 404, 409),
        owner_only=True,
    ),
    ApiRoute(
        "POST",
        "/api/v1/conversations/{id}/resolve",
        resolve,
        "resolveConversation",
        "Resolve: the bot takes over and the feedback request is queued to the customer",
        (200, "Conversation"),
        errors=(403, 404, 409),
        owner_only=True,
    ),
    ApiRoute(
        "GET",
        "/api/v1/customers/{id}",
        get_customer,
        "getCustomer",
        "A customer's profile and conversations (earlier ones too)",
        (200, "CustomerWithConversations"),
        errors=(404,),
    ),
    ApiRoute(
        "GET",
        "/api/v1/canned-replies",
        list_canned_replies,
        "listCannedReplies",
        "Canned replies, in a language (and those in none) if given",
        (200, "CannedReplyList"),
        params=(Param("language", {"type": "string"}, "e.g. it"),),
    ),
    ApiRoute(
        "POST",
        "/api/v1/canned-replies",
        create_canned_reply,
        "createCannedReply",
        "Add a canned reply",
        (201, "CannedReply"),
        body="NewCannedReply",
        errors=(400, 409, 413, 415),
    ),
    ApiRoute(
        "PUT",
        "/api/v1/canned-replies/{id}",
        update_canned_reply,
        "updateCannedReply",
        "Change a canned reply (its author or an admin)",
        (200, "CannedReply"),
        body="CannedReplyChange",
        errors=(400, 403, 404, 409, 413, 415),
        owner_only=True,
    ),
    ApiRoute(
        "DELETE",
        "/api/v1/canned-replies/{id}",
        delete_canned_reply,
        "deleteCannedReply",
        "Delete a canned reply (its author or an admin)",
        (204, None),
        errors=(403, 404),
        owner_only=True,
    ),
)


def add_api_routes(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, route.path, desk_errors(route.handler))


__all__ = ["DESK_OF", "ROUTES", "ApiRoute", "add_api_routes", "api_error", "desk_of"]
