"""Raw Telegram Updates turned into the core's value types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.messages import Attachment, Channel
from channels.telegram.updates import (
    CustomerMessage,
    IgnoredUpdate,
    MalformedUpdate,
    ReachabilityChange,
    parse_update,
)
from tests.fakes.telegram_bot_api import TelegramUpdates

CHAT = 777001


@pytest.fixture
def updates() -> TelegramUpdates:
    return TelegramUpdates(first_update_id=1000)


def message_of(update: dict[str, Any]) -> CustomerMessage:
    event = parse_update(update)
    assert isinstance(event, CustomerMessage), event
    return event


def test_a_text_message(updates: TelegramUpdates) -> None:
    update = updates.text(CHAT, "How much is shipping?", first_name="Ada", last_name="Lovelace")
    event = message_of(update)
    message = event.message
    assert message.channel is Channel.TELEGRAM
    assert message.sender_id == str(CHAT)
    assert message.message_id == "u1000"
    assert message.text == "How much is shipping?"
    assert message.sender_name == "Ada Lovelace"
    assert message.language_hint == "en"
    assert message.payload is None and message.attachments == ()
    assert message.received_at == datetime.fromtimestamp(update["message"]["date"], UTC)
    assert event.callback_query_id is None


@pytest.mark.parametrize("command", ["/start", "/human", "/start promo-42"])
def test_commands_are_passed_as_text_for_the_engine(updates: TelegramUpdates, command: str) -> None:
    assert message_of(updates.text(CHAT, command)).message.text == command


def test_the_username_names_a_sender_without_a_name(updates: TelegramUpdates) -> None:
    update = updates.text(CHAT, "hi", first_name="", last_name=None, username="ada_l")
    assert message_of(update).message.sender_name == "ada_l"


def test_an_unusable_language_code_is_dropped(updates: TelegramUpdates) -> None:
    update = updates.text(CHAT, "hi", language_code="x" * 40)
    assert message_of(update).message.language_hint is None


def test_an_edited_message_is_a_new_message_with_its_own_id(updates: TelegramUpdates) -> None:
    original = message_of(updates.text(CHAT, "Where is my oder?"))
    edit = updates.edited(CHAT, "Where is my order?", message_id=1)
    edited = message_of(edit)
    assert edited.message.text == "Where is my order?"
    assert edited.message.message_id != original.message.message_id
    assert edited.message.received_at == datetime.fromtimestamp(
        edit["edited_message"]["edit_date"], UTC
    )


def test_a_pressed_button_carries_its_payload_title_and_query_id(
    updates: TelegramUpdates,
) -> None:
    update = updates.callback_query(
        CHAT, "feedback:5", buttons=[("👍 Yes", "feedback:5"), ("👎 No", "feedback:1")]
    )
    event = message_of(update)
    assert event.message.payload == "feedback:5"
    assert event.message.text == "👍 Yes"
    assert event.message.sender_id == str(CHAT)
    assert event.callback_query_id == update["callback_query"]["id"]


def test_a_button_without_a_known_title_uses_its_data(updates: TelegramUpdates) -> None:
    event = message_of(updates.callback_query(CHAT, "handoff:yes"))
    assert event.message.text == "handoff:yes"
    assert event.message.payload == "handoff:yes"


def test_a_button_on_an_inline_message_answers_the_users_private_chat(
    updates: TelegramUpdates,
) -> None:
    update = updates.callback_query(CHAT, "menu:2")
    del update["callback_query"]["message"]
    update["callback_query"]["inline_message_id"] = "AAAAAQ"
    assert message_of(update).message.sender_id == str(CHAT)


def test_a_game_button_is_ignored_but_still_answered(updates: TelegramUpdates) -> None:
    update = updates.callback_query(CHAT, "x")
    del update["callback_query"]["data"]
    update["callback_query"]["game_short_name"] = "snake"
    event = parse_update(update)
    assert isinstance(event, IgnoredUpdate)
    assert event.callback_query_id == update["callback_query"]["id"]


def test_a_photo_keeps_the_largest_size_as_a_file_reference(updates: TelegramUpdates) -> None:
    message = message_of(updates.photo(CHAT, caption="the broken part")).message
    assert message.text == "the broken part"
    assert message.attachments == (
        Attachment("image", "telegram-file:AgACAgQAAxk-1280", "image/jpeg"),
    )


def test_media_without_caption_has_empty_text(updates: TelegramUpdates) -> None:
    message = message_of(updates.voice(CHAT)).message
    assert message.text == ""
    assert message.attachments == (
        Attachment("voice", "telegram-file:AwACAgQAAxk-voice", "audio/ogg"),
    )


def test_documents_locations_and_other_media(updates: TelegramUpdates) -> None:
    document = message_of(updates.document(CHAT)).message.attachments
    assert document == (Attachment("document", "telegram-file:BQACAgQAAxk-doc", "application/pdf"),)
    location = message_of(updates.location(CHAT, 45.4642, 9.19)).message.attachments
    assert location == (Attachment("location", latitude=45.4642, longitude=9.19),)
    for key, kind in [("audio", "audio"), ("video", "video"), ("video_note", "video")]:
        update = updates.message(CHAT, **{key: {"file_id": f"F-{key}", "file_unique_id": "u"}})
        (attachment,) = message_of(update).message.attachments
        assert (attachment.kind, attachment.url) == (kind, f"telegram-file:F-{key}")
    sticker = updates.message(CHAT, sticker={"file_id": "S1", "is_animated": True})
    assert message_of(sticker).message.attachments == (
        Attachment("sticker", "telegram-file:S1", "application/x-tgsticker"),
    )
    contact = updates.message(CHAT, contact={"phone_number": "+393331234567", "first_name": "A"})
    assert message_of(contact).message.attachments == (Attachment("contact", "tel:+393331234567"),)


def test_an_animation_is_kept_once_although_telegram_repeats_it_as_document(
    updates: TelegramUpdates,
) -> None:
    gif = {"file_id": "GIF1", "file_unique_id": "u", "mime_type": "video/mp4"}
    update = updates.message(CHAT, animation=gif, document=gif)
    assert message_of(update).message.attachments == (
        Attachment("animation", "telegram-file:GIF1", "video/mp4"),
    )


def test_blocking_and_restarting_the_bot_change_reachability(updates: TelegramUpdates) -> None:
    blocked = parse_update(updates.my_chat_member(CHAT, "kicked"))
    assert blocked == ReachabilityChange(blocked.update_id, str(CHAT), reachable=False)
    back = parse_update(updates.my_chat_member(CHAT, "member", old_status="kicked"))
    assert back == ReachabilityChange(back.update_id, str(CHAT), reachable=True)


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 1, "channel_post": {"message_id": 1}},
        {"update_id": 1, "poll": {"id": "1"}},
        {"update_id": 1},
    ],
)
def test_update_types_we_do_not_handle_are_ignored(update: dict[str, Any]) -> None:
    assert isinstance(parse_update(update), IgnoredUpdate)


def test_group_chats_and_service_messages_are_ignored(updates: TelegramUpdates) -> None:
    group = updates.text(CHAT, "hello all")
    group["message"]["chat"] = {"id": -100123, "type": "supergroup", "title": "Fans"}
    assert isinstance(parse_update(group), IgnoredUpdate)
    joined = updates.message(CHAT, pinned_message={"message_id": 3})
    assert isinstance(parse_update(joined), IgnoredUpdate)
    member = updates.my_chat_member(CHAT, "administrator")
    assert isinstance(parse_update(member), IgnoredUpdate)


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ([1, 2], "must be a JSON object"),
        ({}, "update_id is missing"),
        ({"update_id": "7"}, "update_id must be an integer"),
        ({"update_id": True}, "update_id must be an integer"),
        ({"update_id": 2**70}, "does not fit in 64 bits"),
        ({"update_id": 1, "message": "hi"}, "message must be a JSON object"),
        ({"update_id": 1, "message": {"message_id": 1, "date": 1}}, "message.chat is missing"),
        (
            {"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": "1"}}},
            "message.chat.id must be an integer",
        ),
        (
            {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": {"id": 1, "type": "private"},
                    "text": 5,
                },
            },
            "message.text must be a string",
        ),
        (
            {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 10**15,
                    "chat": {"id": 1, "type": "private"},
                    "text": "x",
                },
            },
            "not a valid Unix time",
        ),
        (
            {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": {"id": 1, "type": "private"},
                    "text": "\ud800",
                },
            },
            "not valid Unicode",
        ),
        (
            {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": {"id": 1, "type": "private"},
                    "location": {"latitude": float("nan"), "longitude": 1},
                },
            },
            "finite",
        ),
        ({"update_id": 1, "callback_query": {"id": "q"}}, "callback_query.from is missing"),
        ({"update_id": 1, "my_chat_member": {"chat": {"id": 1}}}, "my_chat_member.chat.type"),
    ],
)
def test_malformed_updates_say_what_is_wrong(data: object, complaint: str) -> None:
    with pytest.raises(MalformedUpdate, match=complaint):
        parse_update(data)
