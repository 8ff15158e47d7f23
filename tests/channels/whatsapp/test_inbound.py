"""Twilio's WhatsApp webhook forms parsed into the core's value types."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from multidict import MultiDict

from bot.messages import Attachment, Channel, DeliveryStatus
from channels.whatsapp.inbound import (
    InvalidWebhook,
    attachment_kind,
    parse_inbound,
    parse_status_callback,
)
from tests.fakes.twilio_api import FakeTwilio

SID = "SM" + "0123456789abcdef" * 2
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def form(body: str = "Come faccio un reso?", **extra: str) -> dict[str, str]:
    return FakeTwilio().inbound_form(body, message_sid=SID, **extra)


def test_a_text_message() -> None:
    message = parse_inbound(form(), now=NOW)
    assert message.channel is Channel.WHATSAPP
    assert message.sender_id == "whatsapp:+393331234567"
    assert message.message_id == SID
    assert message.text == "Come faccio un reso?"
    assert message.sender_name == "Giulia"
    assert message.received_at == NOW
    assert message.payload is None
    assert message.attachments == ()


def test_received_at_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    message = parse_inbound(form())
    assert before <= message.received_at <= datetime.now(UTC)
    assert message.received_at.tzinfo is not None


def test_a_multidict_form_works_too() -> None:
    assert parse_inbound(MultiDict(form()), now=NOW).message_id == SID


def test_media_without_a_caption() -> None:
    message = parse_inbound(
        form(
            "",
            NumMedia="3",
            MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME0",
            MediaContentType0="image/jpeg",
            MediaUrl1="https://api.twilio.com/media/ME1",
            MediaContentType1="audio/ogg",
            MediaUrl2="https://api.twilio.com/media/ME2",
            MediaContentType2="application/pdf",
        ),
        now=NOW,
    )
    assert message.text == ""
    assert message.attachments == (
        Attachment(
            kind="image",
            url="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME0",
            content_type="image/jpeg",
        ),
        Attachment(kind="audio", url="https://api.twilio.com/media/ME1", content_type="audio/ogg"),
        Attachment(
            kind="document", url="https://api.twilio.com/media/ME2", content_type="application/pdf"
        ),
    )


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("image/webp", "image"),
        ("audio/ogg; codecs=opus", "audio"),
        ("video/mp4", "video"),
        ("text/vcard", "document"),
        ("application/pdf", "document"),
        (None, "document"),
        ("", "document"),
    ],
)
def test_attachment_kinds(content_type: str | None, kind: str) -> None:
    assert attachment_kind(content_type) == kind


def test_a_shared_location() -> None:
    message = parse_inbound(form("", Latitude="45.4642", Longitude="9.19"), now=NOW)
    assert message.attachments == (Attachment(kind="location", latitude=45.4642, longitude=9.19),)


def test_a_pressed_quick_reply() -> None:
    message = parse_inbound(form("Sì", ButtonPayload="feedback:5", ButtonText="Sì"), now=NOW)
    assert message.payload == "feedback:5"
    assert message.text == "Sì"


def test_a_quick_reply_without_a_body_uses_the_button_text() -> None:
    message = parse_inbound(form("", ButtonPayload="handoff:yes", ButtonText="Yes"), now=NOW)
    assert (message.text, message.payload) == ("Yes", "handoff:yes")


def test_a_body_of_exactly_1600_characters_is_fine() -> None:
    assert len(parse_inbound(form("x" * 1600), now=NOW).text) == 1600


def test_an_empty_profile_name_is_none_and_a_silly_one_is_shortened() -> None:
    assert parse_inbound(form(ProfileName=""), now=NOW).sender_name is None
    name = parse_inbound(form(ProfileName="G" * 1000), now=NOW).sender_name
    assert name is not None and len(name) == 256


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"MessageSid": None}, "MessageSid"),
        ({"MessageSid": ""}, "MessageSid"),
        ({"MessageSid": "SM123"}, "MessageSid"),
        ({"From": None}, "From"),
        ({"From": "+393331234567"}, "From"),
        ({"From": "whatsapp:393331234567"}, "From"),
        ({"From": "whatsapp:+39 333"}, "From"),
        ({"Body": "x" * 1601}, "Body"),
        ({"Body": "ciao\x00"}, "Body"),
        ({"NumMedia": "two"}, "NumMedia"),
        ({"NumMedia": "-1"}, "NumMedia"),
        ({"NumMedia": "\u0661"}, "NumMedia"),  # an Arabic-Indic digit: isdigit() but not ASCII
        ({"NumMedia": "11"}, "NumMedia"),
        ({"NumMedia": "99999999999999999999"}, "NumMedia"),
        ({"NumMedia": "1"}, "MediaUrl0"),
        ({"NumMedia": "1", "MediaUrl0": "file:///etc/passwd"}, "MediaUrl0"),
        ({"NumMedia": "1", "MediaUrl0": "https://x/" + "a" * 3000}, "MediaUrl0"),
        ({"Latitude": "45.1"}, "Latitude and Longitude"),
        ({"Latitude": "north", "Longitude": "9"}, "Latitude"),
        ({"Latitude": "91", "Longitude": "9"}, "Latitude"),
        ({"Latitude": "45", "Longitude": "nan"}, "Longitude"),
        ({"Latitude": "45", "Longitude": "inf"}, "Longitude"),
        ({"ButtonPayload": "p" * 2000}, "ButtonPayload"),
    ],
)
def test_malformed_forms_name_the_field(changes: dict[str, str | None], field: str) -> None:
    data = form()
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    with pytest.raises(InvalidWebhook, match=field):
        parse_inbound(data, now=NOW)


def test_the_error_is_a_value_error() -> None:
    assert issubclass(InvalidWebhook, ValueError)


def status_form(status: str, error_code: int | None = None) -> dict[str, str]:
    return FakeTwilio().status_form(SID, status, error_code=error_code)


@pytest.mark.parametrize("status", ["queued", "sent", "delivered", "read", "failed", "undelivered"])
def test_status_callbacks_we_record(status: str) -> None:
    report = parse_status_callback(status_form(status))
    assert report.message_sid == SID
    assert report.status is DeliveryStatus(status)
    assert report.error_code is None


def test_a_failed_status_carries_the_error() -> None:
    report = parse_status_callback(status_form("failed", 63016))
    assert report.status is DeliveryStatus.FAILED
    assert report.error_code == "63016"
    assert report.error_detail is not None and "outside the allowed window" in report.error_detail


@pytest.mark.parametrize("status", ["accepted", "sending", "receiving", "canceled", "weird"])
def test_statuses_we_do_not_record_parse_to_none(status: str) -> None:
    report = parse_status_callback(status_form(status))
    assert report.status is None
    assert report.raw_status == status


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"MessageSid": None}, "MessageSid"),
        ({"MessageSid": "bogus"}, "MessageSid"),
        ({"MessageStatus": None}, "MessageStatus"),
        ({"MessageStatus": "s" * 100}, "MessageStatus"),
        ({"ErrorCode": "abc"}, "ErrorCode"),
    ],
)
def test_malformed_status_callbacks(changes: dict[str, str | None], field: str) -> None:
    data = status_form("delivered")
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    with pytest.raises(InvalidWebhook, match=field):
        parse_status_callback(data)
