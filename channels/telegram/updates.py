"""Telegram Updates turned into what the core understands.

The webhook and the poller both hand the raw Update (a JSON object) to :func:`parse_update`, which
says what it means for the core: a customer message to store (:class:`CustomerMessage`), a change of
reachability (:class:`ReachabilityChange`) or nothing (:class:`IgnoredUpdate`). It parses the JSON
itself rather than through ``telegram.Update.de_json``: every field is type-checked so that a
malformed body is a clear 400 and never an ``AttributeError`` deep inside a handler.

Only private chats are served. The bot answers customers one to one; a message in a group (or a
button pressed there) would otherwise start a conversation whose replies the whole group reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from bot.messages import Attachment, Channel, InboundMessage
from channels.telegram.json_fields import JsonObject, MalformedUpdate

__all__ = [
    "FILE_URL_PREFIX",
    "HANDLED_UPDATE_TYPES",
    "CustomerMessage",
    "IgnoredUpdate",
    "MalformedUpdate",
    "ReachabilityChange",
    "TelegramEvent",
    "parse_update",
]

# What we ask Telegram for (``allowed_updates`` of setWebhook and getUpdates); the rest is ignored.
HANDLED_UPDATE_TYPES: Final = ("message", "edited_message", "callback_query", "my_chat_member")

# Attachments carry the Bot API file id, not a download URL: a download URL contains the bot token.
FILE_URL_PREFIX: Final = "telegram-file:"

_MAX_NAME = 128
_MAX_LANGUAGE_TAG = 35


@dataclass(frozen=True, slots=True)
class CustomerMessage:
    """A message (or a pressed button) to store; ``callback_query_id`` is to be answered after."""

    update_id: int
    message: InboundMessage
    callback_query_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReachabilityChange:
    """The customer blocked the bot (``reachable=False``) or started it again."""

    update_id: int
    sender_id: str
    reachable: bool


@dataclass(frozen=True, slots=True)
class IgnoredUpdate:
    """An update we do not act on; a pressed button still gets its query answered."""

    update_id: int
    reason: str
    callback_query_id: str | None = None


TelegramEvent = CustomerMessage | ReachabilityChange | IgnoredUpdate


def parse_update(data: object) -> TelegramEvent:
    """What a raw Update means for the core.

    Args:
        data: the decoded JSON body of a webhook call, or one element of ``getUpdates``.

    Raises:
        MalformedUpdate: the body is not an Update (not an object, no integer ``update_id``, a
            field of the wrong type); the message names the field.
    """
    update = JsonObject(data, "")
    update_id = update.integer("update_id")
    if update.has("message"):
        return _message(update_id, update.obj("message"))
    if update.has("edited_message"):
        # An edit is a new thing the customer said; its own update_id keeps it apart.
        return _message(update_id, update.obj("edited_message"))
    if update.has("callback_query"):
        return _callback_query(update_id, update.obj("callback_query"))
    if update.has("my_chat_member"):
        return _my_chat_member(update_id, update.obj("my_chat_member"))
    kinds = [key for key in update.field_names() if key != "update_id"]
    return IgnoredUpdate(update_id, f"unsupported update type {', '.join(kinds) or '(none)'}")


def _message_id(update_id: int) -> str:
    # The update id, not Telegram's message id: an edit keeps the message id but is a new message,
    # while a redelivered update keeps its update id and must be dropped by the store.
    return f"u{update_id}"


def _message(update_id: int, message: JsonObject) -> TelegramEvent:
    message.integer("message_id")
    chat = message.obj("chat")
    chat_id = chat.integer("id")
    chat_type = chat.string("type")
    sent_at = _timestamp(message, "date")
    if sent_at is None:
        raise MalformedUpdate(f"{message.path}.date is missing")
    sent_at = _timestamp(message, "edit_date") or sent_at
    sender = message.optional_obj("from")
    text = message.optional_string("text")
    caption = message.optional_string("caption")
    attachments = _attachments(message)
    if chat_type != "private":
        return IgnoredUpdate(update_id, f"message in a {chat_type} chat")
    body = text if text is not None else (caption or "")
    if not body and not attachments:
        return IgnoredUpdate(update_id, "message without text or media we keep")
    return CustomerMessage(
        update_id,
        InboundMessage(
            channel=Channel.TELEGRAM,
            sender_id=str(chat_id),
            message_id=_message_id(update_id),
            text=body,
            received_at=sent_at,
            sender_name=_name(sender),
            language_hint=_language(sender),
            attachments=attachments,
        ),
    )


def _callback_query(update_id: int, query: JsonObject) -> TelegramEvent:
    query_id = query.string("id")
    sender = query.obj("from")
    user_id = sender.integer("id")
    data = query.optional_string("data")
    message = query.optional_obj("message")
    chat_id = user_id  # a button on an inline-mode message: the private chat has the user's id
    title: str | None = None
    if message is not None:
        chat = message.obj("chat")
        chat_id = chat.integer("id")
        chat_type = chat.string("type")
        if chat_type != "private":
            return IgnoredUpdate(update_id, f"button pressed in a {chat_type} chat", query_id)
        title = _button_title(message, data)
    if data is None:
        return IgnoredUpdate(update_id, "callback query without data (a game button)", query_id)
    return CustomerMessage(
        update_id,
        InboundMessage(
            channel=Channel.TELEGRAM,
            sender_id=str(chat_id),
            message_id=_message_id(update_id),
            text=title or data,
            received_at=datetime.now(UTC),  # a callback query carries no date
            sender_name=_name(sender),
            language_hint=_language(sender),
            payload=data,
        ),
        callback_query_id=query_id,
    )


def _my_chat_member(update_id: int, change: JsonObject) -> TelegramEvent:
    chat = change.obj("chat")
    chat_id = chat.integer("id")
    chat_type = chat.string("type")
    new_status = change.obj("new_chat_member").string("status")
    if chat_type != "private":
        return IgnoredUpdate(update_id, f"membership change in a {chat_type} chat")
    if new_status == "kicked":
        return ReachabilityChange(update_id, str(chat_id), reachable=False)
    if new_status == "member":
        return ReachabilityChange(update_id, str(chat_id), reachable=True)
    return IgnoredUpdate(update_id, f"membership status {new_status!r}")


def _timestamp(obj: JsonObject, key: str) -> datetime | None:
    seconds = obj.optional_integer(key)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedUpdate(f"{obj.path}.{key} is not a valid Unix time") from None


def _name(user: JsonObject | None) -> str | None:
    if user is None:
        return None
    first = user.optional_string("first_name") or ""
    last = user.optional_string("last_name") or ""
    name = f"{first} {last}".strip() or user.optional_string("username")
    return name[:_MAX_NAME] if name else None


def _language(user: JsonObject | None) -> str | None:
    if user is None:
        return None
    tag = user.optional_string("language_code")
    return tag if tag and len(tag) <= _MAX_LANGUAGE_TAG else None


def _file(obj: JsonObject) -> str:
    return FILE_URL_PREFIX + obj.string("file_id")


def _attachments(message: JsonObject) -> tuple[Attachment, ...]:
    """Media and locations, in the order a person would list them; file ids, never download URLs."""
    found: list[Attachment] = []
    photos = message.optional_list("photo")
    if photos:
        # Telegram lists the sizes smallest first; the agent wants the largest.
        largest = JsonObject(photos[-1], f"{message.path}.photo[{len(photos) - 1}]")
        found.append(Attachment("image", _file(largest), "image/jpeg"))
    for key, kind, default_type in (
        ("animation", "animation", "video/mp4"),
        ("video", "video", "video/mp4"),
        ("video_note", "video", "video/mp4"),
        ("voice", "voice", "audio/ogg"),
        ("audio", "audio", None),
    ):
        media = message.optional_obj(key)
        if media is not None:
            found.append(
                Attachment(kind, _file(media), media.optional_string("mime_type") or default_type)
            )
    document = message.optional_obj("document")
    # An animation comes with a copy of itself as ``document`` for old clients: keep it once.
    if document is not None and not message.has("animation"):
        found.append(Attachment("document", _file(document), document.optional_string("mime_type")))
    sticker = message.optional_obj("sticker")
    if sticker is not None:
        found.append(Attachment("sticker", _file(sticker), _sticker_type(sticker)))
    location = message.optional_obj("location")
    if location is not None:
        latitude, longitude = location.number("latitude"), location.number("longitude")
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise MalformedUpdate(f"{location.path} is not a point on Earth")
        found.append(Attachment("location", latitude=latitude, longitude=longitude))
    contact = message.optional_obj("contact")
    if contact is not None:
        found.append(Attachment("contact", "tel:" + contact.string("phone_number")))
    return tuple(found)


def _sticker_type(sticker: JsonObject) -> str:
    if sticker.raw("is_animated") is True:
        return "application/x-tgsticker"
    if sticker.raw("is_video") is True:
        return "video/webm"
    return "image/webp"


def _button_title(message: JsonObject, data: str | None) -> str | None:
    """The title of the inline button carrying ``data``, looked up leniently: it is for display."""
    markup = message.raw("reply_markup")
    if data is None or not isinstance(markup, dict):
        return None
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list):
        return None
    for row in rows:
        for button in row if isinstance(row, list) else ():
            if not isinstance(button, dict) or button.get("callback_data") != data:
                continue
            title = button.get("text")
            if isinstance(title, str) and title.strip():
                try:
                    return JsonObject(button, "button").string("text")
                except MalformedUpdate:
                    return None
    return None
