"""The WhatsApp webhooks over HTTP, with recording sinks in place of the core."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import MultiDict

from bot.messages import Channel, DeliveryStatus, InboundMessage
from bot.web.errors import json_errors
from channels.whatsapp.output import TwilioWhatsAppOutput
from channels.whatsapp.routes import EMPTY_TWIML, INBOUND_PATH, STATUS_PATH, WhatsAppWebhook
from tests.fakes.twilio_api import WHATSAPP_SANDBOX, FakeTwilio

pytestmark = pytest.mark.timeout(120)

PUBLIC_URL = "https://bot.example.com"  # Twilio calls this; the test server is elsewhere
MAX_BODY_BYTES = 256 * 1024  # as the gateway's app

Client = TestClient[web.Request, web.Application]


class RecordingSink:
    """Stores inbound messages by id, like the inbox: a repeated id is a redelivery."""

    def __init__(self) -> None:
        self.messages: dict[str, InboundMessage] = {}
        self.calls = 0

    async def accept(self, message: InboundMessage) -> bool:
        self.calls += 1
        if message.message_id in self.messages:
            return False
        self.messages[message.message_id] = message
        return True


@dataclass(frozen=True)
class Receipt:
    channel: Channel
    sid: str
    status: DeliveryStatus
    error_code: str | None
    error_detail: str | None


class RecordingReceipts:
    """Records delivery reports; knows the SIDs it is told about."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.receipts: list[Receipt] = []

    async def record_delivery(
        self,
        channel: Channel,
        platform_message_id: str,
        status: DeliveryStatus,
        *,
        error_code: str | None = None,
        error_detail: str | None = None,
    ) -> bool:
        self.receipts.append(
            Receipt(channel, platform_message_id, status, error_code, error_detail)
        )
        return platform_message_id in self.known


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def receipts() -> RecordingReceipts:
    return RecordingReceipts()


@pytest.fixture
async def client(sink: RecordingSink, receipts: RecordingReceipts) -> AsyncIterator[Client]:
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY_BYTES)
    webhook = WhatsAppWebhook(
        sink, receipts, auth_token=twilio_side().auth_token, public_url=PUBLIC_URL
    )
    webhook.add_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


def twilio_side() -> FakeTwilio:
    """Twilio's signing helpers (the API server is not started)."""
    return FakeTwilio()


async def post_inbound(client: Client, form: dict[str, str]) -> ClientResponse:
    headers, data = twilio_side().signed_inbound(PUBLIC_URL + INBOUND_PATH, form)
    return await client.post(INBOUND_PATH, data=data, headers=headers)


async def test_a_signed_message_is_stored_and_acknowledged_with_empty_twiml(
    client: Client, sink: RecordingSink
) -> None:
    form = twilio_side().inbound_form("Come faccio un reso?")
    response = await post_inbound(client, form)
    assert response.status == 200
    assert response.content_type == "text/xml"
    assert await response.text() == EMPTY_TWIML
    [message] = sink.messages.values()
    assert (message.message_id, message.text) == (form["MessageSid"], "Come faccio un reso?")
    assert message.sender_id == "whatsapp:+393331234567"


async def test_a_redelivery_gets_200_and_is_stored_once(
    client: Client, sink: RecordingSink
) -> None:
    form = twilio_side().inbound_form("Ciao")
    first = await post_inbound(client, form)
    again = await asyncio.gather(*(post_inbound(client, form) for _ in range(3)))
    assert [r.status for r in (first, *again)] == [200, 200, 200, 200]
    assert all([await r.text() == EMPTY_TWIML for r in again])
    assert list(sink.messages) == [form["MessageSid"]]


async def test_media_and_locations_reach_the_sink(client: Client, sink: RecordingSink) -> None:
    form = twilio_side().inbound_form(
        "",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/media/ME1",
        MediaContentType0="audio/ogg",
        Latitude="41.9",
        Longitude="12.5",
    )
    assert (await post_inbound(client, form)).status == 200
    [message] = sink.messages.values()
    assert [a.kind for a in message.attachments] == ["audio", "location"]


@pytest.mark.parametrize("headers", [{}, {"X-Twilio-Signature": "Zm9yZ2Vk"}])
async def test_unsigned_or_forged_posts_get_403_and_nothing_is_stored(
    client: Client, sink: RecordingSink, headers: dict[str, str]
) -> None:
    form = twilio_side().inbound_form("Rimborso!")
    response = await client.post(INBOUND_PATH, data=form, headers=headers)
    assert response.status == 403
    assert response.content_type == "application/json"
    assert sink.calls == 0


async def test_a_signature_for_the_local_url_is_refused(
    client: Client, sink: RecordingSink
) -> None:
    form = twilio_side().inbound_form("Ciao")
    headers, data = twilio_side().signed_inbound(str(client.make_url(INBOUND_PATH)), form)
    response = await client.post(INBOUND_PATH, data=data, headers=headers)
    assert response.status == 403
    assert sink.calls == 0


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"MessageSid": None}, 422),
        ({"From": None}, 422),
        ({"Body": "x" * 1601}, 422),
        ({"NumMedia": "many"}, 422),
        ({"NumMedia": "2", "MediaUrl0": "https://a/b"}, 422),
        ({"Latitude": "500", "Longitude": "1"}, 422),
    ],
)
async def test_signed_but_malformed_messages_get_a_json_4xx(
    client: Client, sink: RecordingSink, changes: dict[str, str | None], status: int
) -> None:
    form = twilio_side().inbound_form("Ciao")
    for key, value in changes.items():
        if value is None:
            del form[key]
        else:
            form[key] = value
    response = await post_inbound(client, form)
    assert response.status == status
    body = await response.json()
    assert body["error"] == "invalid" and body["message"]
    assert sink.calls == 0


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b'{"Body": "hi"}', "application/json", 415),
        (b"Body=hi", "text/plain", 415),
        (b"Body=\xc3\x28", "application/x-www-form-urlencoded", 400),
        (b"Body=" + b"x" * (MAX_BODY_BYTES + 10), "application/x-www-form-urlencoded", 413),
    ],
)
async def test_wrong_content_type_bad_utf8_and_oversized_bodies(
    client: Client, sink: RecordingSink, data: bytes, content_type: str, status: int
) -> None:
    headers = {"X-Twilio-Signature": "c2ln", "Content-Type": content_type}
    response = await client.post(INBOUND_PATH, data=data, headers=headers)
    assert response.status == status
    assert response.content_type == "application/json"
    assert sink.calls == 0


async def test_other_methods_get_a_json_405(client: Client) -> None:
    response = await client.get(INBOUND_PATH)
    assert response.status == 405
    assert response.content_type == "application/json"


# -- status callbacks -----------------------------------------------------------------------------


async def post_status(client: Client, sid: str, status: str, error_code: int | None = None) -> int:
    return await twilio_side().send_status(
        str(client.make_url(STATUS_PATH)),
        sid,
        status,
        error_code=error_code,
        signed_url=PUBLIC_URL + STATUS_PATH,
    )


SID = "SM" + "ab" * 16


async def test_a_status_callback_updates_the_message(
    client: Client, receipts: RecordingReceipts
) -> None:
    receipts.known.add(SID)
    assert await post_status(client, SID, "delivered") == 200
    assert receipts.receipts == [
        Receipt(Channel.WHATSAPP, SID, DeliveryStatus.DELIVERED, None, None)
    ]


async def test_a_failure_report_carries_twilios_error(
    client: Client, receipts: RecordingReceipts
) -> None:
    receipts.known.add(SID)
    assert await post_status(client, SID, "undelivered", 63016) == 200
    [receipt] = receipts.receipts
    assert (receipt.status, receipt.error_code) == (DeliveryStatus.UNDELIVERED, "63016")
    assert receipt.error_detail and "allowed window" in receipt.error_detail


async def test_a_report_about_an_unknown_message_is_acknowledged(
    client: Client, receipts: RecordingReceipts, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="channels.whatsapp.routes")
    assert await post_status(client, SID, "read") == 200
    assert len(receipts.receipts) == 1
    assert "unknown message" in caplog.text


async def test_a_status_we_do_not_record_is_acknowledged_and_ignored(
    client: Client, receipts: RecordingReceipts
) -> None:
    receipts.known.add(SID)
    assert await post_status(client, SID, "sending") == 200
    assert await post_status(client, SID, "partially_delivered") == 200
    assert receipts.receipts == []


async def test_an_unsigned_status_callback_is_refused(
    client: Client, receipts: RecordingReceipts
) -> None:
    form = twilio_side().status_form(SID, "failed", error_code=30008)
    response = await client.post(STATUS_PATH, data=form)
    assert response.status == 403
    signed_for_inbound = {"X-Twilio-Signature": twilio_side().sign(PUBLIC_URL + INBOUND_PATH, form)}
    response = await client.post(STATUS_PATH, data=form, headers=signed_for_inbound)
    assert response.status == 403
    assert receipts.receipts == []


async def test_a_malformed_status_callback_gets_a_json_422(
    client: Client, receipts: RecordingReceipts
) -> None:
    form = twilio_side().status_form(SID, "sent")
    del form["MessageStatus"]
    headers = {"X-Twilio-Signature": twilio_side().sign(PUBLIC_URL + STATUS_PATH, form)}
    response = await client.post(STATUS_PATH, data=form, headers=headers)
    assert response.status == 422
    assert response.content_type == "application/json"
    assert receipts.receipts == []


async def test_a_reply_sent_through_the_fake_is_reported_back(
    client: Client, receipts: RecordingReceipts
) -> None:
    """The whole loop: the real client sends, the fake reports, the webhook records the SID."""
    async with FakeTwilio() as fake:
        output = TwilioWhatsAppOutput(
            fake.account_sid,
            fake.auth_token,
            WHATSAPP_SANDBOX,
            api_url=fake.url,
            status_callback_url=PUBLIC_URL + STATUS_PATH,
        )
        try:
            delivery = await output.send_text("whatsapp:+393331234567", "Ecco come fare un reso.")
        finally:
            await output.close()
        [message] = await fake.wait_for(1)
        assert message.form["StatusCallback"] == PUBLIC_URL + STATUS_PATH
        [sid] = delivery.platform_message_ids
        receipts.known.add(sid)
        status = await fake.send_status(
            str(client.make_url(STATUS_PATH)),
            sid,
            "delivered",
            signed_url=message.form["StatusCallback"],
        )
    assert status == 200
    assert [(r.sid, r.status) for r in receipts.receipts] == [(sid, DeliveryStatus.DELIVERED)]


# -- fuzzing --------------------------------------------------------------------------------------

_FIELDS = [
    "MessageSid",
    "From",
    "Body",
    "NumMedia",
    "MediaUrl0",
    "MediaContentType0",
    "Latitude",
    "Longitude",
    "ButtonPayload",
    "ProfileName",
]
_CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=utf-8",
            "application/x-www-form-urlencoded; charset=latin-1",
            "application/json",
            "multipart/form-data; boundary=x",
            "text/plain",
            "",
        ]
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
)


@st.composite
def webhook_posts(draw: st.DrawFn) -> tuple[bytes, str, bool]:
    """A body (raw bytes, or a mutated real form), a content type, and whether to sign it."""
    if draw(st.booleans()):
        body = draw(st.binary(max_size=2000))
    else:
        form = twilio_side().inbound_form(draw(st.text(max_size=1700)))
        for name in draw(st.lists(st.sampled_from(_FIELDS), max_size=4)):
            if draw(st.booleans()):
                form.pop(name, None)
            else:
                form[name] = draw(st.text(max_size=40))
        body = urlencode(form).encode()
    return body, draw(_CONTENT_TYPES), draw(st.booleans())


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(post=webhook_posts())
async def test_fuzzed_webhook_posts_never_get_a_500(
    client: Client, post: tuple[bytes, str, bool]
) -> None:
    body, content_type, signed = post
    headers = {"Content-Type": content_type}
    if signed:
        # Sign what the route will parse: for a form body, exactly its fields.
        try:
            fields = parse_qsl(body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            fields = []
        headers["X-Twilio-Signature"] = twilio_side().sign(
            PUBLIC_URL + INBOUND_PATH, MultiDict(fields)
        )
    for path in (INBOUND_PATH, STATUS_PATH):
        response = await client.post(path, data=body, headers=headers)
        await response.read()
        assert response.status == 200 or 400 <= response.status < 500, (response.status, post)
