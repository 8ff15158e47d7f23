"""The API's JSON errors: ``{"error": code, "message": ...}`` with the status each code means.

The desk raises :class:`~handoff.desk_errors.DeskError` subclasses; the API maps their stable
``code`` to a status here, once (docs/agent-api.md, "Errors").
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from handoff.desk_errors import DeskError

STATUS_OF_CODE = {
    "invalid_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "csrf_failed": 403,
    "not_found": 404,
    "already_claimed": 409,
    "conflict": 409,
    "too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
}


def api_error(
    code: str, message: str, *, headers: dict[str, str] | None = None, **details: Any
) -> web.HTTPException:
    """An HTTP error with the API's JSON body, ready to raise."""
    status = STATUS_OF_CODE.get(code, 400)
    body = json.dumps({"error": code, "message": message, **details}, ensure_ascii=False)
    error = web.HTTPException(text=body, content_type="application/json", headers=headers)
    error.set_status(status)
    return error


def from_desk_error(error: DeskError) -> web.HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if error.code == "unauthorized" else None
    return api_error(error.code, error.message, headers=headers, **error.details)
