"""Twilio's request signature, checked before a webhook's form reaches its handler.

Twilio signs every webhook: HMAC-SHA1, keyed with the account's auth token, over the URL it called
followed by the sorted POST parameters, sent as ``X-Twilio-Signature``. Anyone can post to a public
URL, so an unsigned or forged request is refused with a 403 before anything is parsed or stored.

The URL must be the one *Twilio* called. Behind a reverse proxy aiohttp sees
``http://127.0.0.1:8080/webhooks/whatsapp`` while Twilio called
``https://bot.example.com/webhooks/whatsapp``, so the URL is rebuilt from ``CAREBOT_PUBLIC_URL``
plus the request's path and query string, never from the request's own host or scheme (which a
caller controls and a proxy rewrites).

The check is a decorator of its own, like slack-bolt's request verification, so a handler cannot
forget it and stays about its job. Neither the token nor a signature is ever logged.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import RequestValidator

from bot.web.errors import json_error

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Twilio's richest webhooks (10 media items, referral fields) carry about 50 fields.
MAX_FORM_FIELDS = 200

TwilioFormHandler = Callable[[web.Request, MultiDictProxy[str]], Awaitable[web.StreamResponse]]
"""A webhook handler that receives the request and its already verified form."""


async def read_form(request: web.Request) -> MultiDict[str]:
    """The request's form-encoded body, or a JSON 4xx saying what is wrong with it.

    aiohttp's own ``request.post()`` raises ``UnicodeDecodeError`` on invalid UTF-8, which would
    surface as a 500; parsing here keeps every malformed body a 4xx (CONTRACT section 4). Repeated
    fields are kept (a ``MultiDict``) because Twilio's signature covers every value.

    Raises:
        web.HTTPException: 415 for another content type or charset, 400 for invalid UTF-8 or too
            many fields, 413 (from aiohttp) for a body over the app's ``client_max_size``.
    """
    if request.content_type != FORM_CONTENT_TYPE:
        raise json_error(415, f"expected Content-Type: {FORM_CONTENT_TYPE}")
    charset = request.charset
    if charset is not None and charset.lower().replace("-", "") != "utf8":
        raise json_error(415, "expected a UTF-8 form")
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        raise json_error(400, "body is not valid UTF-8") from None
    except ValueError:  # parse_qsl's "Max number of fields exceeded"
        raise json_error(400, f"more than {MAX_FORM_FIELDS} form fields") from None
    return MultiDict(pairs)


class TwilioSignature:
    """Validates ``X-Twilio-Signature`` against the public URL Twilio was given.

    Args:
        auth_token: the Twilio account's auth token (the HMAC key).
        public_url: ``CAREBOT_PUBLIC_URL``, the base URL Twilio calls, without a trailing slash
            (one is tolerated).
    """

    def __init__(self, auth_token: str, public_url: str) -> None:
        if not auth_token:
            raise ValueError("a Twilio auth token is required to check webhook signatures")
        self._validator = RequestValidator(auth_token)
        self._public_url = public_url.rstrip("/")

    def __repr__(self) -> str:  # the validator holds the token: keep it out of any repr
        return f"TwilioSignature(public_url={self._public_url!r})"

    def url_for(self, request: web.Request) -> str:
        """The URL Twilio signed: the public base URL, then the path and query exactly as sent."""
        return self._public_url + request.raw_path

    def is_valid(self, request: web.Request, form: MultiDict[str], signature: str) -> bool:
        """True when ``signature`` is Twilio's for this request's public URL and ``form``.

        The library compares in constant time and tries the URL with and without the default port,
        as Twilio itself is inconsistent about it.
        """
        try:
            return bool(self._validator.validate(self.url_for(request), form, signature))
        except ValueError:  # an unparsable URL (e.g. a bad port) cannot carry a valid signature
            return False

    def required(self, handler: TwilioFormHandler) -> Handler:
        """Wrap ``handler`` so it only ever runs with a correctly signed form.

        A missing header is refused before the body is even read; a wrong content type or an
        undecodable body gets its 4xx next (the form is needed to check the signature); a bad
        signature gets a 403. The handler then receives the verified form, so it never re-reads or
        re-parses the body.
        """

        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            signature = request.headers.get(SIGNATURE_HEADER)
            if not signature:
                log.warning("twilio webhook refused: no %s on %s", SIGNATURE_HEADER, request.path)
                raise json_error(403, f"missing {SIGNATURE_HEADER} header")
            form = await read_form(request)
            if not self.is_valid(request, form, signature):
                log.warning(
                    "twilio webhook refused: bad %s on %s (signed for another URL or token?)",
                    SIGNATURE_HEADER,
                    request.path,
                )
                raise json_error(403, f"invalid {SIGNATURE_HEADER}")
            return await handler(request, MultiDictProxy(form))

        return checked
