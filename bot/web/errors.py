"""JSON errors for every endpoint: malformed input gets a short 4xx body, never a 500 or a
traceback.

Handlers raise :func:`json_error`; the middleware turns aiohttp's own HTTP errors (413 for an
oversized
body, 405, 404) into the same JSON shape, and anything unexpected into a logged, generic 500.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    503: "unavailable",
}


_ERRORS: dict[int, type[web.HTTPError]] = {
    cls.status_code: cls
    for cls in (
        web.HTTPBadRequest,
        web.HTTPUnauthorized,
        web.HTTPForbidden,
        web.HTTPNotFound,
        web.HTTPMethodNotAllowed,
        web.HTTPConflict,
        web.HTTPUnsupportedMediaType,
        web.HTTPUnprocessableEntity,
        web.HTTPTooManyRequests,
        web.HTTPServiceUnavailable,
    )
}


def json_error(status: int, message: str, code: str | None = None) -> web.HTTPException:
    """An HTTP error with body ``{"error": code, "message": message}``, ready to raise."""
    body = json.dumps({"error": code or _CODES.get(status, "error"), "message": message})
    if status == web.HTTPRequestEntityTooLarge.status_code:
        return web.HTTPRequestEntityTooLarge(
            max_size=0, actual_size=0, text=body, content_type="application/json"
        )
    if status == web.HTTPMethodNotAllowed.status_code:
        return web.HTTPMethodNotAllowed("", [], text=body, content_type="application/json")
    error = web.HTTPException(text=body, content_type="application/json")
    error.set_status(status)
    cls = _ERRORS.get(status)
    return cls(text=body, content_type="application/json") if cls is not None else error


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, or a 4xx naming what is wrong with it."""
    if request.content_type != "application/json":
        raise json_error(415, "expected Content-Type: application/json")
    raw = await request.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise json_error(400, "body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise json_error(400, f"body is not valid JSON ({exc.msg})") from None
    except (ValueError, RecursionError):  # a 5,000-digit number, arrays nested 10,000 deep
        raise json_error(
            400, "body is not acceptable JSON (too large a number or too deep)"
        ) from None
    if not isinstance(data, dict):
        raise json_error(400, "expected a JSON object")
    return data


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        message = exc.reason if exc.status != 413 else "request body too large"
        raise json_error(exc.status, message) from None
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        raise web.HTTPInternalServerError(
            text=json.dumps({"error": "internal", "message": "internal error"}),
            content_type="application/json",
        ) from None
