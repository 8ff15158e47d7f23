"""Re-record the real Rasa answers that ``test_rasa_client.py`` replays.

Run after upgrading Rasa or changing the pipeline, from the repository root::

    .venv/bin/python -m tests.nlu.record_rasa_answers

It trains the project model if needed, starts a Rasa server for it and another one without a model
(for the 409 of ``/status``), and writes one JSON file per exchange into ``tests/nlu/recorded/``.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from nlu.rasa_runtime import rasa_environment, rasa_executable
from nlu.rasa_server import RasaServer, free_port, rasa_run_command
from nlu.training import ensure_trained
from tests.fixtures.rasa import LOG_DIR, MODELS_DIR, NLU_PROJECT, RASA_VENV

RECORDED = Path(__file__).parent / "recorded"
LOG_PATH = LOG_DIR / "rasa-record.log"
PARSED = {
    "parse_faq_en": "how much does shipping cost?",
    "parse_faq_it": "quanto costa la spedizione in Italia?",
    "parse_greet_en": "hello",
    "parse_out_of_scope_it": "che tempo fa domani",
}


def save(name: str, method: str, path: str, request: Any, status: int, body: Any) -> None:
    exchange: dict[str, Any] = {"method": method, "path": path}
    if request is not None:
        exchange["request"] = request
    exchange |= {"status": status, "body": body}
    text = json.dumps(exchange, indent=2, ensure_ascii=False) + "\n"
    (RECORDED / f"{name}.json").write_text(text, encoding="utf-8")
    print(f"recorded {name}: HTTP {status}")


async def record() -> None:
    model = await ensure_trained(NLU_PROJECT, MODELS_DIR, RASA_VENV)
    RECORDED.mkdir(exist_ok=True)
    async with (
        RasaServer(model, RASA_VENV, log_path=LOG_PATH) as server,
        aiohttp.ClientSession() as http,
    ):
        for name, text in PARSED.items():
            request = {"text": text}
            async with http.post(f"{server.url}/model/parse", json=request) as response:
                save(name, "POST", "/model/parse", request, response.status, await response.json())
        async with http.get(f"{server.url}/status") as response:
            save("status_ready", "GET", "/status", None, response.status, await response.json())
    await record_status_without_model(RASA_VENV)


async def record_status_without_model(rasa_venv: Path) -> None:
    """Start Rasa on a model path that does not exist: it serves, but ``/status`` answers 409.

    :class:`RasaServer` rightly refuses a missing model and waits for a loaded one, so this drives
    the same command line by hand.
    """
    missing = MODELS_DIR / "no-such-model.tar.gz"
    port = free_port()
    command = rasa_run_command(rasa_executable(rasa_venv), missing, "127.0.0.1", port)
    # Rasa creates ./models when it finds no model: give it a directory of its own.
    workdir = tempfile.TemporaryDirectory(prefix="rasa-no-model-")
    with LOG_PATH.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=workdir.name,
            env=rasa_environment(),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(360):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/status") as response:
                        body = await response.json()
                        save("status_no_model", "GET", "/status", None, response.status, body)
                        return
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.5)
            raise SystemExit("Rasa without a model never answered /status")
    finally:
        process.terminate()
        await process.wait()
        workdir.cleanup()


if __name__ == "__main__":
    asyncio.run(record())
