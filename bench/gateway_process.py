"""The gateway under test, run as ``carebot serve`` in a process of its own.

A separate process, not an app inside the benchmark's event loop, because that is how it runs in
production: the figures then include aiohttp's real server, the real CLI start-up, and none of the
load generator's work lands on the gateway's loop. Its memory and CPU can be read from ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import Self

import aiohttp

from nlu.rasa_server import free_port

ROOT = Path(__file__).resolve().parents[1]
_START_TIMEOUT_S = 30.0
_STOP_GRACE_S = 10.0
_POLL_S = 0.1
_PORT_ATTEMPTS = 3


class GatewayStartError(Exception):
    """``carebot serve`` exited or never answered ``/healthz``; the message ends with its output."""


def gateway_environment(*, port: int, rasa_url: str, database_url: str) -> dict[str, str]:
    """The environment for ``carebot serve``: this machine's, minus any ``CAREBOT_*`` of the caller.

    Dropping the caller's ``CAREBOT_*`` variables (and starting in an empty directory, so no
    ``.env`` is read) keeps a developer's Telegram or Twilio credentials from switching channels
    on: the benchmark talks to loopback only. Paths are absolute because the working directory is
    not the repository. ``PYTHONPATH`` names the repository so that the console script imports
    this checkout even when the editable install's finder is stale.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBOT_")}
    env.update(
        {
            "CAREBOT_HOST": "127.0.0.1",
            "CAREBOT_PORT": str(port),
            "CAREBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "CAREBOT_RASA_URL": rasa_url,
            "CAREBOT_DATABASE_URL": database_url,
            "CAREBOT_LOG_LEVEL": "WARNING",
            "CAREBOT_CONFIG": str(ROOT / "config" / "carebot.yml"),
            "CAREBOT_NLU_PROJECT": str(ROOT / "nlu"),
            "CAREBOT_MODELS_DIR": str(ROOT / "var" / "models"),
            "CAREBOT_RASA_VENV": str(ROOT / ".venv-rasa"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        }
    )
    return env


class GatewayProcess:
    """``carebot serve`` on a free loopback port, as an async context manager.

    Entering returns once ``GET /healthz`` answers 200; leaving sends SIGTERM (the gateway's own
    clean shutdown) and SIGKILL after a grace period. The process gets a session of its own so a
    Ctrl-C in the terminal reaches only the benchmark, which then stops the gateway in order.

    Args:
        rasa_url: the Rasa API the gateway is to use.
        database_url: the gateway's database.
        workdir: an empty directory to run in; the gateway's output goes to ``gateway.log`` there.
    """

    def __init__(self, *, rasa_url: str, database_url: str, workdir: Path) -> None:
        self._rasa_url = rasa_url
        self._database_url = database_url
        self._workdir = workdir
        self.log_path = workdir / "gateway.log"
        self._process: asyncio.subprocess.Process | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the gateway is not running")
        return self._process.pid

    async def __aenter__(self) -> Self:
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            self.port = free_port()
            try:
                await self._start()
                return self
            except GatewayStartError as exc:
                await self.stop()
                # Another process may take the free port before the gateway binds it; retry that.
                if "address already in use" not in str(exc).lower() or attempt == _PORT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _start(self) -> None:
        executable = Path(sys.executable).parent / "carebot"
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                str(executable),
                "serve",
                cwd=self._workdir,
                env=gateway_environment(
                    port=self.port, rasa_url=self._rasa_url, database_url=self._database_url
                ),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        await self._wait_healthy(self._process)

    async def _wait_healthy(self, process: asyncio.subprocess.Process) -> None:
        """Poll ``/healthz`` until 200; fail early if the process exits (bounded by a deadline)."""
        deadline = time.monotonic() + _START_TIMEOUT_S
        timeout = aiohttp.ClientTimeout(total=1.0)
        async with aiohttp.ClientSession(timeout=timeout) as client:
            while time.monotonic() < deadline:
                if process.returncode is not None:
                    raise GatewayStartError(
                        f"carebot serve exited with code {process.returncode}: {self._log_tail()}"
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with client.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), _POLL_S)
        raise GatewayStartError(
            f"carebot serve did not answer /healthz within {_START_TIMEOUT_S:.0f} s: "
            f"{self._log_tail()}"
        )

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after the grace period; safe to call more than once."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), _STOP_GRACE_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    def _log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no output)"
        tail = deque((line for line in text.splitlines() if line.strip()), maxlen=lines)
        return " | ".join(tail) or "(no output)"
