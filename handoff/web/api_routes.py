"""The agent API's route table: each operation's method, path, handler and description.

One list serves both the router (:func:`add_api_routes`) and ``/api/v1/openapi.json``
(:mod:`handoff.web.openapi`), so no route can be served undescribed or described unserved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.storage.review_queue import REASONS, STATUSES
from handoff.web import api, reports_api, review_api
from handoff.web.api import Handler


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
        admin_only: only admins (the admin token or an admin agent); other agents get 403.
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
    admin_only: bool = False


_LIMIT = Param("limit", {"type": "integer", "minimum": 1}, "how many at most")

_REPORT_PARAMS = (
    Param("since", {"type": "string"}, "WHEN: ISO-8601 date/date-time (UTC) or a span: 7d, 24h"),
    Param("until", {"type": "string"}, "WHEN (default: now)"),
    Param("channel", {"type": "string", "enum": ["telegram", "whatsapp", "web"]}, "one channel"),
    Param("language", {"type": "string"}, "conversations in this language"),
    Param("agent", {"type": "integer", "minimum": 1}, "conversations this agent owned"),
    Param("faq", {"type": "string"}, "conversations that asked this FAQ"),
    Param("business_hours", {"type": "boolean"}, "agent times in business hours only"),
)

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "POST",
        "/api/v1/auth/token",
        api.create_token,
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
        api.revoke_token,
        "revokeToken",
        "Revoke the token used for this call",
        (204, None),
        errors=(400,),
    ),
    ApiRoute(
        "GET", "/api/v1/me", api.get_me, "getMe", "The calling agent", (200, "Agent"), errors=(403,)
    ),
    ApiRoute(
        "PUT",
        "/api/v1/me/status",
        api.put_my_status,
        "setMyStatus",
        "Become available or away; becoming available may assign waiting conversations",
        (200, "Agent"),
        body="StatusChange",
        errors=(400, 403, 415),
    ),
    ApiRoute(
        "GET",
        "/api/v1/agents",
        api.list_agents,
        "listAgents",
        "Agents (transfer targets)",
        (200, "AgentList"),
    ),
    ApiRoute(
        "GET",
        "/api/v1/queue",
        api.get_queue,
        "getQueue",
        "Waiting conversations: the caller's languages first, then longest wait first",
        (200, "Queue"),
    ),
    ApiRoute(
        "GET",
        "/api/v1/conversations",
        api.list_conversations,
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
        api.get_conversation,
        "getConversation",
        "One conversation",
        (200, "Conversation"),
        errors=(404,),
    ),
    ApiRoute(
        "GET",
        "/api/v1/conversations/{id}/messages",
        api.list_messages,
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
        api.claim,
        "claimConversation",
        "Take a waiting conversation; 409 already_claimed if someone else was first",
        (200, "Conversation"),
        errors=(403, 404, 409),
    ),
    ApiRoute(
        "POST",
        "/api/v1/conversations/{id}/messages",
        api.post_message,
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
        api.post_note,
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
        api.transfer,
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
        api.release,
        "releaseConversation",
        "Hand the conversation back to the bot",
        (200, "Conversation"),
        errors=(403, 404, 409),
        owner_only=True,
    ),
    ApiRoute(
        "POST",
        "/api/v1/conversations/{id}/resolve",
        api.resolve,
        "resolveConversation",
        "Resolve: the bot takes over and the feedback request is queued to the customer",
        (200, "Conversation"),
        errors=(403, 404, 409),
        owner_only=True,
    ),
    ApiRoute(
        "GET",
        "/api/v1/customers/{id}",
        api.get_customer,
        "getCustomer",
        "A customer's profile and conversations (earlier ones too)",
        (200, "CustomerWithConversations"),
        errors=(404,),
    ),
    ApiRoute(
        "GET",
        "/api/v1/canned-replies",
        api.list_canned_replies,
        "listCannedReplies",
        "Canned replies, in a language (and those in none) if given",
        (200, "CannedReplyList"),
        params=(Param("language", {"type": "string"}, "e.g. it"),),
    ),
    ApiRoute(
        "POST",
        "/api/v1/canned-replies",
        api.create_canned_reply,
        "createCannedReply",
        "Add a canned reply",
        (201, "CannedReply"),
        body="NewCannedReply",
        errors=(400, 409, 413, 415),
    ),
    ApiRoute(
        "PUT",
        "/api/v1/canned-replies/{id}",
        api.update_canned_reply,
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
        api.delete_canned_reply,
        "deleteCannedReply",
        "Delete a canned reply (its author or an admin)",
        (204, None),
        errors=(403, 404),
        owner_only=True,
    ),
    ApiRoute(
        "GET",
        "/api/v1/reports/summary",
        reports_api.get_summary,
        "getReportSummary",
        "The figures of carebot report --format json (CONTRACT section 6), admins only",
        (200, "ReportSummary"),
        errors=(400, 403),
        params=_REPORT_PARAMS,
        admin_only=True,
    ),
    ApiRoute(
        "GET",
        "/api/v1/reports/timeseries",
        reports_api.get_timeseries,
        "getReportTimeseries",
        "Figures per hour or day for charts, admins only",
        (200, "ReportTimeseries"),
        errors=(400, 403),
        params=(
            *_REPORT_PARAMS,
            Param("bucket", {"type": "string", "enum": ["hour", "day"]}, "default: day"),
        ),
        admin_only=True,
    ),
    ApiRoute(
        "GET",
        "/api/v1/reports/faqs",
        reports_api.get_faqs,
        "getReportFaqs",
        "Per FAQ: asked, ratings, CSAT, helpful share; worst rated first; admins only",
        (200, "ReportFaqs"),
        errors=(400, 403),
        params=(*_REPORT_PARAMS, _LIMIT),
        admin_only=True,
    ),
    ApiRoute(
        "GET",
        "/api/v1/review",
        review_api.list_review_items,
        "listReviewItems",
        "Questions the bot failed (fallback, low rating, handoff), newest first; admins only",
        (200, "ReviewItemList"),
        errors=(400, 403),
        params=(
            Param("status", {"type": "string", "enum": list(STATUSES)}, "one status"),
            Param("reason", {"type": "string", "enum": list(REASONS)}, "one reason"),
            Param("language", {"type": "string"}, "questions in this language"),
            Param("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "default 100"),
            Param("before", {"type": "integer", "minimum": 1}, "only items with a smaller id"),
        ),
        admin_only=True,
    ),
    ApiRoute(
        "POST",
        "/api/v1/review/{id}",
        review_api.mark_review_item,
        "markReviewItem",
        "Add a question to an FAQ (or a new one), dismiss it, or reopen it; admins only",
        (200, "ReviewItem"),
        body="ReviewDecision",
        errors=(400, 403, 404, 415),
        admin_only=True,
    ),
)


def add_api_routes(app: web.Application) -> None:
    """Register every route of :data:`ROUTES`, with the desk's errors turned into JSON errors."""
    for route in ROUTES:
        app.router.add_route(route.method, route.path, api.desk_errors(route.handler))
