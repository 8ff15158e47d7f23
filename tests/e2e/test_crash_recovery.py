"""A gateway SIGKILLed while messages wait for the NLU loses none and answers each exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.stalled_rasa import stalled_rasa
from tests.fakes.twilio_api import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, WHATSAPP_SANDBOX, FakeTwilio
from tests.fixtures.gateway import ROOT, SHIPPED_BEHAVIOUR

pytestmark = [pytest.mark.rasa, pytest.mark.timeout(300)]

CUSTOMERS = 6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_gateway(env: dict[str, str], port: int, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as log_file:  # the child keeps its own descriptor
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log_file,
        )
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            if process.returncode is not None:
                raise AssertionError(f"gateway exited with {process.returncode}; see {log}")
            await asyncio.sleep(0.1)
    raise AssertionError("gateway did not start")


async def test_sigkill_with_accepted_unanswered_messages(rasa_url: str, tmp_path: Path) -> None:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    async with FakeTwilio() as twilio, stalled_rasa() as stalled:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBOT_")}
        env.update(
            CAREBOT_PORT=str(port),
            CAREBOT_PUBLIC_URL=public,
            CAREBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}",
            CAREBOT_TWILIO_ACCOUNT_SID=FAKE_ACCOUNT_SID,
            CAREBOT_TWILIO_AUTH_TOKEN=FAKE_AUTH_TOKEN,
            CAREBOT_TWILIO_WHATSAPP_FROM=WHATSAPP_SANDBOX,
            CAREBOT_TWILIO_API_URL=twilio.url,
            CAREBOT_RASA_URL=stalled,
        )
        log = tmp_path / "gateway.log"
        gateway = await start_gateway(env, port, log)
        forms = [
            twilio.inbound_form("How much is shipping?", sender=f"whatsapp:+4477009001{i:02d}")
            for i in range(CUSTOMERS)
        ]
        async with aiohttp.ClientSession() as session:
            for form in forms:
                headers, data = twilio.signed_inbound(f"{public}/webhooks/whatsapp", form)
                async with session.post(
                    f"{public}/webhooks/whatsapp", data=data, headers=headers
                ) as response:
                    assert response.status == 200
        gateway.send_signal(signal.SIGKILL)  # well within the NLU timeout: nothing answered yet
        await gateway.wait()
        assert twilio.messages == []

        env["CAREBOT_RASA_URL"] = rasa_url
        gateway = await start_gateway(env, port, log)
        try:
            # Each customer: the shipping answer, then its "was this helpful?" request.
            await twilio.wait_for(2 * CUSTOMERS, 60)
            await asyncio.sleep(2.0)  # a duplicate would show up by now
            sent = list(twilio.messages)
            assert len(sent) == 2 * CUSTOMERS
            helpful = tuple(SHIPPED_BEHAVIOUR.text("helpful_request", x) for x in ("it", "en"))
            answers = [m.form for m in sent if not m.form["Body"].startswith(helpful)]
            assert sorted(m["To"] for m in answers) == sorted(f["From"] for f in forms)
            assert all("€" in m["Body"] or "shipping" in m["Body"].lower() for m in answers)
        finally:
            gateway.send_signal(signal.SIGTERM)
            await asyncio.wait_for(gateway.wait(), 30)
        assert gateway.returncode == 0, log.read_text()[-2000:]
