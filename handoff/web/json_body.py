"""Reading an API request's JSON body and its fields, with 4xx errors that name the problem.

Malformed input must never become a 500 (CONTRACT.md section 4): every way a body or a field can be
wrong (content type, size, UTF-8, JSON, type, range) ends here as a 400/413/415 with a message
naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from handoff.desk_errors import InvalidRequest
from handoff.web.api_errors import api_error

MAX_ID = 2**63 - 1


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object."""
    if request.content_type != "application/json":
        raise api_error("unsupported_media_type", "expected Content-Type: application/json")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise api_error("too_large", "request body too large") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise api_error("invalid_request", "body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise api_error("invalid_request", f"body is not valid JSON ({exc.msg})") from None
    except (ValueError, RecursionError):
        raise api_error("invalid_request", "body is not acceptable JSON") from None
    if not isinstance(data, dict):
        raise api_error("invalid_request", "expected a JSON object")
    return data


def string(body: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"{name}: required")
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{name}: expected a string")
    return value


def identifier(body: Mapping[str, Any], name: str, *, required: bool = True) -> int | None:
    """A positive integer id (JSON booleans are not numbers here)."""
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"{name}: required")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise InvalidRequest(f"{name}: expected a positive integer id")
    return value


def path_id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info.get(name, "")
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise api_error("not_found", f"no such {name.removesuffix('_id') or 'object'}")
    return int(raw)


def query_int(
    request: web.Request, name: str, default: int | None, *, minimum: int = 0
) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not minimum <= int(raw) <= MAX_ID:
        raise InvalidRequest(f"{name}: expected an integer >= {minimum}")
    return int(raw)
