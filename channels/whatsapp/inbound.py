"""Twilio's WhatsApp webhook forms turned into the core's value types, as pure functions.

Pure so they can be tested (and fuzzed) without a server, and so the web layer stays a thin edge:
the route verifies the signature, calls :func:`parse_inbound` or :func:`parse_status_callback`, and
hands the result to the core. Every problem is an :class:`InvalidWebhook` whose message names the
field, which the route answers with a 422 (Twilio shows the body in its debugger).

Field names are Twilio's (https://www.twilio.com/docs/messaging/guides/webhook-request): ``From`` is
``whatsapp:+E164``, ``Body`` is at most 1,600 characters, media come as ``NumMedia`` plus
``MediaUrl{N}``/``MediaContentType{N}``, a shared location as ``Latitude``/``Longitude``, a pressed
quick reply as ``ButtonPayload``/``ButtonText``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.messages import Attachment, Channel, DeliveryStatus, InboundMessage

MAX_BODY = 1600  # Twilio's limit for a message body, both directions
MAX_MEDIA = 10  # Twilio delivers at most 10 media items per message
MAX_PROFILE_NAME = 256
MAX_PAYLOAD = 1024  # quick-reply payloads are ours, and far shorter
MAX_URL = 2048

_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
_WHATSAPP_ADDRESS = re.compile(r"^whatsapp:\+[1-9][0-9]{5,15}$")
_ERROR_CODE = re.compile(r"^[0-9]{1,10}$")

# Twilio's MessageStatus values we record; the others (accepted, scheduled, sending, receiving,
# received, canceled, partially_delivered) say nothing the outbox needs and are ignored.
_STATUSES: dict[str, DeliveryStatus] = {
    "queued": DeliveryStatus.QUEUED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.UNDELIVERED,
}


class InvalidWebhook(ValueError):
    """A webhook form that cannot be what Twilio sends; the message names the field, for a 4xx."""


@dataclass(frozen=True, slots=True)
class StatusCallback:
    """What a Twilio status callback says about a message we sent.

    Attributes:
        message_sid: the SID the Messages API returned when we sent it.
        raw_status: Twilio's ``MessageStatus`` as sent, for logging.
        status: the matching :class:`DeliveryStatus`, or None for a status we do not record.
        error_code: Twilio's ``ErrorCode`` (e.g. ``"63016"``) when delivery failed.
        error_detail: Twilio's ``ErrorMessage`` or ``ChannelStatusMessage``, if it sent one.
    """

    message_sid: str
    raw_status: str
    status: DeliveryStatus | None
    error_code: str | None = None
    error_detail: str | None = None


def parse_inbound(form: Mapping[str, str], *, now: datetime | None = None) -> InboundMessage:
    """The customer message in an inbound WhatsApp webhook.

    Args:
        form: the verified webhook form (a ``MultiDict`` or any mapping; the first value counts).
        now: the receive time to record (UTC); defaults to now. Twilio's inbound form carries no
            timestamp of its own.

    Raises:
        InvalidWebhook: a required field is missing or a field is malformed.
    """
    message_sid = _required(form, "MessageSid")
    if not _SID.match(message_sid):
        raise InvalidWebhook("MessageSid must be two capital letters and 32 hex digits")
    sender = _required(form, "From")
    if not _WHATSAPP_ADDRESS.match(sender):
        raise InvalidWebhook("From must be a WhatsApp address like whatsapp:+393331234567")
    body = _text(form, "Body", MAX_BODY) or ""
    payload = _text(form, "ButtonPayload", MAX_PAYLOAD)
    if not body and payload is not None:
        # A pressed quick reply normally repeats its title in Body; fall back to ButtonText.
        body = _text(form, "ButtonText", MAX_BODY) or ""
    profile_name = _text(form, "ProfileName", None)
    return InboundMessage(
        channel=Channel.WHATSAPP,
        sender_id=sender,
        message_id=message_sid,
        text=body,
        received_at=now or datetime.now(UTC),
        # The customer chooses the display name: shorten a silly one rather than lose the message.
        sender_name=profile_name[:MAX_PROFILE_NAME] if profile_name else None,
        payload=payload or None,
        attachments=_media(form) + _location(form),
    )


def parse_status_callback(form: Mapping[str, str]) -> StatusCallback:
    """The delivery report in a status callback.

    Raises:
        InvalidWebhook: ``MessageSid`` or ``MessageStatus`` is missing or malformed.
    """
    message_sid = _required(form, "MessageSid")
    if not _SID.match(message_sid):
        raise InvalidWebhook("MessageSid must be two capital letters and 32 hex digits")
    raw_status = _required(form, "MessageStatus")
    if len(raw_status) > 64:
        raise InvalidWebhook("MessageStatus is longer than 64 characters")
    error_code = _text(form, "ErrorCode", 16)
    if error_code is not None and not _ERROR_CODE.match(error_code):
        raise InvalidWebhook("ErrorCode must be a number")
    detail = _text(form, "ErrorMessage", None) or _text(form, "ChannelStatusMessage", None)
    return StatusCallback(
        message_sid=message_sid,
        raw_status=raw_status,
        status=_STATUSES.get(raw_status.lower()),
        error_code=error_code,
        error_detail=detail[:500] if detail else None,
    )


def attachment_kind(content_type: str | None) -> str:
    """``image``, ``audio``, ``video`` or ``document``, from a media item's MIME type.

    WhatsApp voice notes arrive as ``audio/ogg``; stickers as ``image/webp``; anything else
    (PDF, vCard, ...) is a document for the agent to open.
    """
    major = (content_type or "").split("/", 1)[0].strip().lower()
    return major if major in ("image", "audio", "video") else "document"


def _media(form: Mapping[str, str]) -> tuple[Attachment, ...]:
    raw_count = form.get("NumMedia", "0") or "0"
    if not raw_count.isascii() or not raw_count.isdigit() or len(raw_count) > 3:
        raise InvalidWebhook("NumMedia must be a whole number")
    count = int(raw_count)
    if count > MAX_MEDIA:
        raise InvalidWebhook(f"NumMedia must be at most {MAX_MEDIA}")
    attachments = []
    for index in range(count):
        url = _required(form, f"MediaUrl{index}", MAX_URL)
        if not url.startswith(("https://", "http://")):
            raise InvalidWebhook(f"MediaUrl{index} must be an http(s) URL")
        content_type = _text(form, f"MediaContentType{index}", 255)
        attachments.append(
            Attachment(kind=attachment_kind(content_type), url=url, content_type=content_type)
        )
    return tuple(attachments)


def _location(form: Mapping[str, str]) -> tuple[Attachment, ...]:
    latitude = _coordinate(form, "Latitude", 90.0)
    longitude = _coordinate(form, "Longitude", 180.0)
    if latitude is None and longitude is None:
        return ()
    if latitude is None or longitude is None:
        raise InvalidWebhook("Latitude and Longitude come together")
    return (Attachment(kind="location", latitude=latitude, longitude=longitude),)


def _coordinate(form: Mapping[str, str], name: str, bound: float) -> float | None:
    raw = _text(form, name, 32)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidWebhook(f"{name} must be a number") from None
    if not math.isfinite(value) or abs(value) > bound:
        raise InvalidWebhook(f"{name} must be between -{bound:g} and {bound:g}")
    return value


def _required(form: Mapping[str, str], name: str, limit: int = 256) -> str:
    value = _text(form, name, limit)
    if not value:
        raise InvalidWebhook(f"{name} is required")
    return value


def _text(form: Mapping[str, str], name: str, limit: int | None) -> str | None:
    """A field's value, None when absent; refuses NULs (PostgreSQL text cannot store them)."""
    value = form.get(name)
    if value is None:
        return None
    if limit is not None and len(value) > limit:
        raise InvalidWebhook(f"{name} is longer than {limit} characters")
    if "\x00" in value:
        raise InvalidWebhook(f"{name} contains a NUL character")
    return value
