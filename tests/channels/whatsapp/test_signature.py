"""``X-Twilio-Signature`` checks, against the public URL, as Twilio computes them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import MultiDict, MultiDictProxy

from bot.web.errors import json_errors
from channels.whatsapp.signature import TwilioSignature
from tests.fakes.twilio_api import FAKE_AUTH_TOKEN, FakeTwilio

pytestmark = pytest.mark.timeout(30)

# What Twilio is configured to call: a reverse proxy in front of the test server, whose own URL
# (http://127.0.0.1:<port>) differs in scheme, host and port.
PUBLIC_URL = "https://bot.example.com"
FORM = {
    "MessageSid": "SM" + "a" * 32,
    "Body": "Ciao, come faccio un reso?",
    "From": "whatsapp:+39333",
}


class Seen:
    """The forms the protected handler received."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []

    async def handler(self, request: web.Request, form: MultiDictProxy[str]) -> web.Response:
        self.forms.append(dict(form))
        return web.json_response({"ok": True})


@pytest.fixture
async def seen() -> Seen:
    return Seen()


@pytest.fixture
async def client(seen: Seen) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application(middlewares=[json_errors])
    app.router.add_post(
        "/hook", TwilioSignature(FAKE_AUTH_TOKEN, PUBLIC_URL).required(seen.handler)
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


@pytest.fixture
def twilio() -> FakeTwilio:
    """Only its signing helpers are used here; the server is not started."""
    return FakeTwilio()


async def test_a_signature_for_the_public_url_is_accepted_behind_a_proxy(
    client: TestClient[web.Request, web.Application], seen: Seen, twilio: FakeTwilio
) -> None:
    assert not str(client.make_url("/hook")).startswith(PUBLIC_URL)
    headers, form = twilio.signed_inbound(f"{PUBLIC_URL}/hook", FORM)
    response = await client.post("/hook", data=form, headers=headers)
    assert response.status == 200
    assert seen.forms == [FORM]


async def test_the_query_string_is_part_of_the_signed_url(
    client: TestClient[web.Request, web.Application], seen: Seen, twilio: FakeTwilio
) -> None:
    headers, form = twilio.signed_inbound(f"{PUBLIC_URL}/hook?tenant=it&lang=it", FORM)
    response = await client.post("/hook?tenant=it&lang=it", data=form, headers=headers)
    assert response.status == 200
    response = await client.post("/hook?tenant=en&lang=it", data=form, headers=headers)
    assert response.status == 403


async def test_the_public_url_with_its_default_port_is_accepted(
    client: TestClient[web.Request, web.Application], seen: Seen, twilio: FakeTwilio
) -> None:
    headers, form = twilio.signed_inbound("https://bot.example.com:443/hook", FORM)
    response = await client.post("/hook", data=form, headers=headers)
    assert response.status == 200


async def test_a_signature_for_the_local_url_is_refused(
    client: TestClient[web.Request, web.Application], seen: Seen, twilio: FakeTwilio
) -> None:
    headers, form = twilio.signed_inbound(str(client.make_url("/hook")), FORM)
    response = await client.post("/hook", data=form, headers=headers)
    assert response.status == 403
    assert seen.forms == []


async def test_a_forged_signature_is_refused_with_json(
    client: TestClient[web.Request, web.Application], seen: Seen, twilio: FakeTwilio
) -> None:
    headers, form = twilio.signed_inbound(f"{PUBLIC_URL}/hook", FORM)
    tampered = {**form, "Body": "Rimborsami 1000 euro"}
    response = await client.post("/hook", data=tampered, headers=headers)
    assert response.status == 403
    assert response.content_type == "application/json"
    assert (await response.json())["error"] == "forbidden"
    assert seen.forms == []


async def test_a_signature_made_with_another_token_is_refused(
    client: TestClient[web.Request, web.Application], seen: Seen
) -> None:
    other = FakeTwilio(auth_token="another-token")
    headers, form = other.signed_inbound(f"{PUBLIC_URL}/hook", FORM)
    response = await client.post("/hook", data=form, headers=headers)
    assert response.status == 403
    assert seen.forms == []


@pytest.mark.parametrize("signature", [None, "", "not base64 at all", "x" * 5_000])
async def test_missing_or_garbage_signatures_are_refused(
    client: TestClient[web.Request, web.Application], seen: Seen, signature: str | None
) -> None:
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    response = await client.post("/hook", data=FORM, headers=headers)
    assert response.status == 403
    assert (await response.json())["error"] == "forbidden"
    assert seen.forms == []


async def test_an_unsigned_request_is_refused_before_its_body_is_read(
    client: TestClient[web.Request, web.Application], seen: Seen
) -> None:
    response = await client.post(
        "/hook", data=b"\xff\xfe", headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status == 403


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"Body": "hi"}', "application/json", 415),
        (b"Body=hi", "application/x-www-form-urlencoded; charset=latin-1", 415),
        (b"Body=\xff\xfe", "application/x-www-form-urlencoded", 400),
        (b"Body=%ff%fe", "application/x-www-form-urlencoded", 400),
        (b"&".join(b"f%d=1" % i for i in range(500)), "application/x-www-form-urlencoded", 400),
    ],
)
async def test_a_signed_but_malformed_body_gets_a_json_4xx(
    client: TestClient[web.Request, web.Application],
    seen: Seen,
    body: bytes,
    content_type: str,
    status: int,
) -> None:
    headers = {"X-Twilio-Signature": "c2lnbmF0dXJl", "Content-Type": content_type}
    response = await client.post("/hook", data=body, headers=headers)
    assert response.status == status
    assert response.content_type == "application/json"
    assert seen.forms == []


async def test_repeated_fields_are_all_covered_by_the_signature(
    client: TestClient[web.Request, web.Application], seen: Seen, twilio: FakeTwilio
) -> None:
    form = MultiDict([("Tag", "b"), ("Tag", "a"), ("Body", "x")])
    signature = twilio.sign(f"{PUBLIC_URL}/hook", form)
    response = await client.post("/hook", data=form, headers={"X-Twilio-Signature": signature})
    assert response.status == 200
    response = await client.post(
        "/hook",
        data=MultiDict([("Tag", "a"), ("Body", "x")]),
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status == 403


def test_the_token_never_shows_in_a_repr() -> None:
    assert FAKE_AUTH_TOKEN not in repr(TwilioSignature(FAKE_AUTH_TOKEN, PUBLIC_URL))


def test_an_empty_token_is_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="auth token"):
        TwilioSignature("", PUBLIC_URL)
