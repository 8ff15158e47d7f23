"""``carebot telegram set-webhook`` registers our webhook URL and secret with the (fake) Bot API."""

from __future__ import annotations

import asyncio
import os
import sys

from tests.fakes.telegram_bot_api import TOKEN, FakeTelegram
from tests.fixtures.gateway import ROOT


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAREBOT_")}
    clean.update(env)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        cwd=ROOT,
        env=clean,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_set_webhook_registers_url_secret_and_update_types() -> None:
    async with FakeTelegram() as fake:
        code, out, err = await run_cli(
            "telegram",
            "set-webhook",
            env={
                "CAREBOT_TELEGRAM_TOKEN": TOKEN,
                "CAREBOT_TELEGRAM_WEBHOOK_SECRET": "a-secret_123",
                "CAREBOT_TELEGRAM_API_URL": fake.api_url,
                "CAREBOT_PUBLIC_URL": "https://support.aurora.example",
            },
        )
        assert code == 0, err
        assert "https://support.aurora.example/webhooks/telegram" in out
        [call] = fake.calls_to("setWebhook")
        assert call.params["url"] == "https://support.aurora.example/webhooks/telegram"
        assert call.params["secret_token"] == "a-secret_123"
        assert {"message", "edited_message", "callback_query", "my_chat_member"} <= set(
            call.params["allowed_updates"]
        )
        assert TOKEN not in out + err


async def test_set_webhook_without_a_secret_is_a_one_line_error() -> None:
    code, _out, err = await run_cli(
        "telegram", "set-webhook", env={"CAREBOT_TELEGRAM_TOKEN": TOKEN}
    )
    assert code == 2
    assert err.strip().count("\n") == 0 and "CAREBOT_TELEGRAM_WEBHOOK_SECRET" in err


async def test_serve_refuses_webhook_mode_without_a_secret() -> None:
    code, _out, err = await run_cli("serve", env={"CAREBOT_TELEGRAM_TOKEN": TOKEN})
    assert code == 2
    assert "Traceback" not in err
    assert "CAREBOT_TELEGRAM_WEBHOOK_SECRET" in err.strip().splitlines()[-1]
