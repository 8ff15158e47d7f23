"""python-telegram-bot's transport on aiohttp: what it sends and how failures surface."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from channels.telegram.aiohttp_request import AiohttpRequest


async def _echo(request: web.Request) -> web.Response:
    if request.query.get("slow"):
        await asyncio.sleep(2)
    form = await request.post()
    fields = {
        name: value
        if isinstance(value, str)
        else {"file": value.filename, "bytes": len(value.file.read())}
        for name, value in form.items()
    }
    return web.json_response(
        {"content_type": request.content_type, "fields": fields},
        status=int(request.query.get("status", 200)),
    )


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_post("/echo", _echo)
    async with TestServer(app, host="127.0.0.1") as running:
        yield running


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest(read_timeout=0.5)
    await request.initialize()
    yield request
    await request.shutdown()


async def test_parameters_go_form_encoded_and_any_status_comes_back(
    server: TestServer, transport: AiohttpRequest
) -> None:
    data = RequestData(
        [RequestParameter.from_input("chat_id", 42), RequestParameter.from_input("text", "ciao è")]
    )
    status, body = await transport.do_request(
        str(server.make_url("/echo?status=429")), "POST", data
    )
    assert status == 429
    assert json.loads(body) == {
        "content_type": "application/x-www-form-urlencoded",
        "fields": {"chat_id": "42", "text": "ciao è"},
    }


async def test_files_go_multipart(server: TestServer, transport: AiohttpRequest) -> None:
    document = InputFile(b"%PDF-1.4 invoice", filename="invoice.pdf")
    data = RequestData(
        [
            RequestParameter.from_input("chat_id", 42),
            RequestParameter.from_input("document", document),
        ]
    )
    status, body = await transport.do_request(str(server.make_url("/echo")), "POST", data)
    assert status == 200
    answer = json.loads(body)
    assert answer["content_type"] == "multipart/form-data"
    assert answer["fields"]["chat_id"] == "42"
    assert answer["fields"]["document"] == {"file": "invoice.pdf", "bytes": 16}


async def test_a_slow_answer_is_timed_out(server: TestServer, transport: AiohttpRequest) -> None:
    with pytest.raises(TimedOut):
        await transport.do_request(str(server.make_url("/echo?slow=1")), "POST", None)


async def test_a_refused_connection_is_a_network_error(transport: AiohttpRequest) -> None:
    with pytest.raises(NetworkError, match=r"aiohttp\.ClientConnectorError"):
        await transport.do_request("http://127.0.0.1:9/echo", "POST", None)
