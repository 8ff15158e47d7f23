"""Fuzzing ``POST /webhooks/telegram`` with the right secret: 200 or a JSON 4xx, never a 500."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.telegram.output import TelegramOutput
from channels.telegram.routes import SECRET_HEADER, WEBHOOK_PATH, TelegramWebhook
from tests.channels.telegram.conftest import SECRET, webhook_client
from tests.channels.telegram.recording import RecordingReachability, RecordingSink
from tests.fakes.telegram_bot_api import TOKEN, FakeTelegram, TelegramUpdates

pytestmark = pytest.mark.timeout(300)

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Nine times in ten a well-typed value, else any JSON: so deep paths get exercised too."""
    return st.one_of(*[valid] * 9, json_values)


ids = st.integers(min_value=-(2**40), max_value=2**40) | st.integers()
dates = st.integers(min_value=0, max_value=2**32) | st.integers()
chat = st.fixed_dictionaries(
    {"id": mostly(ids), "type": mostly(st.sampled_from(["private", "private", "group", "channel"]))}
)
user = st.fixed_dictionaries(
    {"id": mostly(ids), "is_bot": st.booleans()},
    optional={
        "first_name": mostly(st.text(max_size=10)),
        "last_name": mostly(st.text(max_size=10)),
        "username": mostly(st.text(max_size=10)),
        "language_code": mostly(st.text(max_size=40)),
    },
)
media = st.fixed_dictionaries(
    {"file_id": mostly(st.text(max_size=10))},
    optional={"mime_type": mostly(st.text(max_size=10)), "is_animated": json_values},
)
message = st.fixed_dictionaries(
    {"message_id": mostly(ids), "date": mostly(dates), "chat": mostly(chat)},
    optional={
        "from": mostly(user),
        "text": mostly(st.text()),
        "caption": mostly(st.text()),
        "edit_date": mostly(dates),
        "photo": mostly(st.lists(mostly(media), max_size=3)),
        "voice": mostly(media),
        "audio": mostly(media),
        "video": mostly(media),
        "animation": mostly(media),
        "document": mostly(media),
        "sticker": mostly(media),
        "location": mostly(
            st.fixed_dictionaries(
                {"latitude": st.floats() | st.integers(), "longitude": st.floats() | st.integers()}
            )
        ),
        "contact": mostly(st.fixed_dictionaries({"phone_number": mostly(st.text(max_size=12))})),
        "reply_markup": json_values,
    },
)
button = st.fixed_dictionaries(
    {"text": mostly(st.text(max_size=10)), "callback_data": mostly(st.text(max_size=10))}
)
keyboard = st.fixed_dictionaries(
    {"inline_keyboard": mostly(st.lists(mostly(st.lists(mostly(button), max_size=3)), max_size=3))}
)
callback_query = st.fixed_dictionaries(
    {"id": mostly(st.text(max_size=12)), "from": mostly(user)},
    optional={
        "data": mostly(st.text(max_size=70)),
        "message": mostly(
            st.fixed_dictionaries(
                {"message_id": ids, "date": dates, "chat": mostly(chat)},
                optional={"reply_markup": mostly(keyboard)},
            )
        ),
    },
)
member_change = st.fixed_dictionaries(
    {
        "chat": mostly(chat),
        "new_chat_member": mostly(
            st.fixed_dictionaries({"status": mostly(st.sampled_from(["kicked", "member", "left"]))})
        ),
    }
)
update_like = st.fixed_dictionaries(
    {"update_id": mostly(ids)},
    optional={
        "message": mostly(message),
        "edited_message": message,
        "callback_query": mostly(callback_query),
        "my_chat_member": mostly(member_change),
    },
)


@pytest.fixture(scope="module")
async def fuzz_client() -> AsyncIterator[TestClient]:
    async with FakeTelegram(TOKEN) as fake:
        output = TelegramOutput(TOKEN, api_url=fake.api_url, per_chat_interval=0)
        webhook = TelegramWebhook(RecordingSink(), RecordingReachability(), output, secret=SECRET)
        try:
            async with webhook_client(webhook) as client:
                yield client
        finally:
            await output.close()


async def assert_never_500(client: TestClient, body: bytes) -> None:
    response = await client.post(
        WEBHOOK_PATH,
        data=body,
        headers={"Content-Type": "application/json", SECRET_HEADER: SECRET},
    )
    assert response.status == 200 or 400 <= response.status < 500, await response.text()
    assert response.content_type == "application/json"
    await response.json()


@FUZZ
@given(update=update_like)
async def test_update_shaped_json_never_gets_a_500(
    fuzz_client: TestClient, update: dict[str, Any]
) -> None:
    await assert_never_500(fuzz_client, json.dumps(update).encode())


@FUZZ
@given(value=json_values)
async def test_arbitrary_json_never_gets_a_500(fuzz_client: TestClient, value: Any) -> None:
    await assert_never_500(fuzz_client, json.dumps(value).encode())


@FUZZ
@given(body=st.binary(max_size=300))
async def test_arbitrary_bytes_never_get_a_500(fuzz_client: TestClient, body: bytes) -> None:
    await assert_never_500(fuzz_client, body)


def realistic_updates() -> list[dict[str, Any]]:
    make = TelegramUpdates()
    return [
        make.text(1, "hello"),
        make.edited(1, "fixed", message_id=1),
        make.photo(1, caption="look"),
        make.voice(1),
        make.document(1),
        make.location(1, 45.0, 9.0),
        make.message(1, sticker={"file_id": "S", "is_video": True}, animation={"file_id": "A"}),
        make.callback_query(1, "feedback:5", buttons=[("Great", "feedback:5")]),
        make.my_chat_member(1, "kicked"),
    ]


def leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaf_paths(item, (*path, index))


@FUZZ
@given(data=st.data())
async def test_realistic_updates_with_one_field_broken_never_get_a_500(
    fuzz_client: TestClient, data: st.DataObject
) -> None:
    update = copy.deepcopy(data.draw(st.sampled_from(realistic_updates())))
    path = data.draw(st.sampled_from(list(leaf_paths(update))))
    parent = update
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(json_values | st.integers() | st.text())
    await assert_never_500(fuzz_client, json.dumps(update).encode())
