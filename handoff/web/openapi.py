"""``GET /api/v1/openapi.json``: the API described as OpenAPI 3.1, built from the route table.

Paths, methods, parameters, bodies and statuses come from :data:`handoff.web.api.ROUTES` (so a new
route cannot be left out); the objects' schemas are written here by hand, mirroring
:mod:`handoff.views` and docs/agent-api.md.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from handoff.web.api_routes import ROUTES, ApiRoute

_TIME = {"type": "string", "format": "date-time"}
_ID = {"type": "integer", "minimum": 1}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


def _list_of(key: str, item: str) -> dict[str, Any]:
    return _object({key: {"type": "array", "items": _ref(item)}})


_SECONDS = {"type": ["number", "null"]}
_STATS = _object({"mean": _SECONDS, "p50": _SECONDS, "p90": _SECONDS})
_BY_RESPONDER = _object({"bot": _STATS, "agent": _STATS, "all": _STATS})
_SHARE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_COUNT = {"type": "integer", "minimum": 0}
_PERIOD = _object({"since": _TIME, "until": _TIME})
_REPORT_SCHEMAS: dict[str, Any] = {
    "ReportSummary": _object(
        {
            "period": _PERIOD,
            "filters": {"type": "object"},
            "response_window_s": {"type": "number"},
            "turns": _COUNT,
            "answered_turns": _COUNT,
            "response_rate": _SHARE,
            "response_time_s": _BY_RESPONDER,
            "first_response_time_s": _BY_RESPONDER,
            "handoffs": _COUNT,
            "handoff_wait_s": _STATS,
            "conversations_closed": _COUNT,
            "containment_rate": _SHARE,
            "csat": _SHARE,
            "ratings": _COUNT,
            "feedback_count": _COUNT,
            "by_channel": {"type": "array", "items": {"type": "object"}},
            "by_agent": {"type": "array", "items": {"type": "object"}},
        }
    ),
    "ReportTimeseries": _object(
        {
            "period": _PERIOD,
            "filters": {"type": "object"},
            "bucket": {"type": "string", "enum": ["hour", "day"]},
            "channels": {"type": "array", "items": {"type": "string"}},
            "buckets": {
                "type": "array",
                "items": _object(
                    {
                        "start": _TIME,
                        "turns": _COUNT,
                        "answered_turns": _COUNT,
                        "response_rate": _SHARE,
                        "response_time_p50_s": _SECONDS,
                        "response_time_p90_s": _SECONDS,
                        "handoffs": _COUNT,
                        "csat": _SHARE,
                        "ratings": _COUNT,
                        "turns_by_channel": {"type": "object"},
                    }
                ),
            },
        }
    ),
    "ReportFaqs": _object(
        {
            "period": _PERIOD,
            "filters": {"type": "object"},
            "faqs": {
                "type": "array",
                "items": _object(
                    {
                        "faq": {"type": "string"},
                        "asked": _COUNT,
                        "ratings": _COUNT,
                        "csat": _SHARE,
                        "helpful": _SHARE,
                    }
                ),
            },
        }
    ),
}

_REVIEW_SCHEMAS: dict[str, Any] = {
    "ReviewItem": _object(
        {
            "id": _ID,
            "message_id": _ID,
            "conversation_id": _ID,
            "channel": {"type": "string"},
            "language": {"type": ["string", "null"]},
            "text": {"type": "string", "description": "the customer's question"},
            "reason": {"type": "string", "enum": ["fallback", "low_rating", "handoff"]},
            "intent": {"type": ["string", "null"], "description": "the NLU's best guess"},
            "intent_confidence": {"type": ["number", "null"]},
            "faq_key": {"type": ["string", "null"]},
            "faq_confidence": {"type": ["number", "null"]},
            "status": {"type": "string", "enum": ["open", "added", "dismissed"]},
            "target_faq": {
                "type": ["string", "null"],
                "description": "added only: an FAQ key of the catalog, or new",
            },
            "marked_by": {"type": ["integer", "null"], "description": "the deciding agent"},
            "marked_at": _nullable(_TIME),
            "created_at": _TIME,
        }
    ),
    "ReviewDecision": _object(
        {
            "status": {"type": "string", "enum": ["open", "added", "dismissed"]},
            "target_faq": {
                "type": ["string", "null"],
                "description": "required with added: an FAQ key (faq/...) or new",
            },
        },
        required=["status"],
    ),
}

SCHEMAS: dict[str, Any] = {
    "Error": _object(
        {
            "error": {
                "type": "string",
                "description": "stable code: invalid_request, unauthorized, forbidden, "
                "csrf_failed, not_found, already_claimed, conflict, too_large, "
                "unsupported_media_type, rate_limited",
            },
            "message": {"type": "string"},
            "agent": {
                "type": "object",
                "description": "already_claimed only: who owns the conversation",
                "properties": {"id": _ID, "display_name": {"type": ["string", "null"]}},
            },
        },
        required=["error", "message"],
    ),
    "Agent": _object(
        {
            "id": _ID,
            "username": {"type": "string"},
            "display_name": {"type": "string"},
            "languages": {"type": "array", "items": {"type": "string"}},
            "is_admin": {"type": "boolean"},
            "status": {"type": "string", "enum": ["available", "away"]},
            "open_conversations": {"type": "integer", "minimum": 0},
        }
    ),
    "Customer": _object(
        {
            "id": _ID,
            "channel": {"type": "string", "enum": ["telegram", "whatsapp", "web", "shell"]},
            "platform_id": {"type": "string"},
            "display_name": {"type": ["string", "null"]},
            "language": {"type": ["string", "null"]},
            "unreachable": {"type": "boolean"},
            "created_at": _TIME,
            "last_inbound_at": _nullable(_TIME),
        }
    ),
    "Handoff": _object(
        {
            "id": _ID,
            "reason": {"type": "string"},
            "detail": {"type": ["string", "null"]},
            "requested_at": _TIME,
            "claimed_at": _nullable(_TIME),
            "agent_id": {"type": ["integer", "null"]},
            "resolved_at": _nullable(_TIME),
            "language": {"type": ["string", "null"]},
            "ended_reason": {
                "type": ["string", "null"],
                "description": "resolved or released, once ended",
            },
            "first_agent_message_at": _nullable(_TIME),
        }
    ),
    "Message": _object(
        {
            "id": _ID,
            "conversation_id": _ID,
            "direction": {"type": "string", "enum": ["in", "out"]},
            "author": {"type": "string", "enum": ["customer", "bot", "agent", "system"]},
            "kind": {"type": "string", "description": "text, reply, notice, note, broadcast"},
            "text": {"type": "string"},
            "attachments": {
                "type": "array",
                "items": _object(
                    {
                        "url": {"type": ["string", "null"]},
                        "content_type": {"type": ["string", "null"]},
                        "kind": {"type": ["string", "null"]},
                    }
                ),
            },
            "choices": {
                "type": "array",
                "items": _object({"title": {"type": "string"}, "payload": {"type": "string"}}),
            },
            "agent": _nullable(
                _object({"id": _ID, "display_name": {"type": "string"}}),
            ),
            "status": {
                "type": ["string", "null"],
                "description": "outbound delivery state: queued, sent, delivered, read, failed, "
                "undelivered, held; null for inbound messages and notes",
            },
            "created_at": _TIME,
        }
    ),
    "Conversation": _object(
        {
            "id": _ID,
            "state": {"type": "string", "enum": ["bot", "waiting", "agent", "closed"]},
            "channel": {"type": "string"},
            "language": {"type": ["string", "null"]},
            "customer": _ref("Customer"),
            "agent": _nullable(_ref("Agent")),
            "handoff": _nullable(_ref("Handoff")),
            "created_at": _TIME,
            "updated_at": _TIME,
            "last_message": _nullable(_ref("Message")),
            "unread": {
                "type": "integer",
                "minimum": 0,
                "description": "customer messages since the last message sent to them",
            },
        }
    ),
    "CannedReply": _object(
        {
            "id": _ID,
            "shortcut": {"type": "string"},
            "title": {"type": "string"},
            "language": {"type": ["string", "null"]},
            "text": {
                "type": "string",
                "description": "placeholders: {name} (customer), {agent}, {conversation}",
            },
            "created_by": {"type": ["integer", "null"]},
            "updated_at": _TIME,
        }
    ),
    "Credentials": _object({"username": {"type": "string"}, "password": {"type": "string"}}),
    "TokenCreated": _object({"token": {"type": "string"}, "agent": _ref("Agent")}),
    "StatusChange": _object({"status": {"type": "string", "enum": ["available", "away"]}}),
    "AgentList": _list_of("agents", "Agent"),
    "Queue": _object(
        {
            "waiting": {"type": "array", "items": _ref("Conversation")},
            "count": {"type": "integer", "minimum": 0},
        }
    ),
    "ConversationList": _list_of("conversations", "Conversation"),
    "MessageList": _list_of("messages", "Message"),
    "CannedReplyList": _list_of("canned_replies", "CannedReply"),
    "CustomerWithConversations": _object(
        {
            "customer": _ref("Customer"),
            "conversations": {"type": "array", "items": _ref("Conversation")},
        }
    ),
    "NewMessage": {
        "type": "object",
        "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": 4000},
            "canned_reply_id": _ID,
        },
        "oneOf": [{"required": ["text"]}, {"required": ["canned_reply_id"]}],
    },
    "NewNote": _object({"text": {"type": "string", "minLength": 1, "maxLength": 4000}}),
    "Transfer": _object(
        {"agent_id": {"type": ["integer", "null"], "description": "null: back to the queue"}}
    ),
    "NewCannedReply": _object(
        {
            "shortcut": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
            "title": {"type": "string"},
            "language": {"type": ["string", "null"]},
            "text": {"type": "string"},
        },
        required=["shortcut", "title", "text"],
    ),
    "CannedReplyChange": _object(
        {
            "shortcut": {"type": "string"},
            "title": {"type": "string"},
            "language": {"type": ["string", "null"]},
            "text": {"type": "string"},
        },
        required=[],
    ),
    **_REPORT_SCHEMAS,
    **_REVIEW_SCHEMAS,
    "ReviewItemList": _list_of("items", "ReviewItem"),
}

_ERROR_TEXT = {
    400: "invalid_request: malformed JSON or a missing / wrong field",
    401: "unauthorized: no or unknown token or session",
    403: "forbidden (another agent's conversation, admin-only) or csrf_failed",
    404: "not_found",
    409: "already_claimed or conflict (the conversation's state does not allow it)",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited: too many failed logins from this address",
}


def _operation(route: ApiRoute) -> dict[str, Any]:
    status, schema = route.response
    success: dict[str, Any] = {"description": "success"}
    if schema is not None:
        success["content"] = {"application/json": {"schema": _ref(schema)}}
    responses: dict[str, Any] = {str(status): success}
    errors = set(route.errors) | ({401} if route.authenticated else set())
    if route.owner_only:
        errors.add(403)
    for code in sorted(errors):
        responses[str(code)] = {
            "description": _ERROR_TEXT[code],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "responses": responses,
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _ID}
        for name in re.findall(r"\{(\w+)\}", route.path)
    ]
    parameters += [
        {
            "name": p.name,
            "in": "query",
            "required": False,
            "schema": p.schema,
            "description": p.description,
        }
        for p in route.params
    ]
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.body)}},
        }
    if not route.authenticated:
        operation["security"] = []
    return operation


def openapi_document(extra_paths: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole description; ``extra_paths`` adds operations served elsewhere (the events)."""
    paths: dict[str, Any] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    for path, operations in (extra_paths or {}).items():
        paths.setdefault(path, {}).update(operations)
    paths["/api/v1/openapi.json"] = {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This description",
            "security": [],
            "responses": {"200": {"description": "the OpenAPI 3.1 document"}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "carebot agent API",
            "version": "1",
            "description": "The API the agent console uses; see docs/agent-api.md.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "carebot_session",
                    "description": "console session; unsafe methods also need X-CSRF-Token",
                },
            },
        },
    }


EVENTS_PATH = {
    "/api/v1/events": {
        "get": {
            "operationId": "streamEvents",
            "summary": "Live events as server-sent events (queue, handoff, claimed, message, "
            "conversation); Last-Event-ID replays what was missed",
            "responses": {
                "200": {
                    "description": "an event stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                "401": {
                    "description": _ERROR_TEXT[401],
                    "content": {"application/json": {"schema": _ref("Error")}},
                },
            },
        }
    }
}


async def openapi_json(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[OPENAPI])


OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)
