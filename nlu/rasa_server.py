"""Run a Rasa server for a trained NLU model: managed (tests, ``make run``) or in the foreground.

:class:`RasaServer` starts ``rasa run --enable-api`` as a child process, waits until ``GET /status``
reports the model loaded (Rasa takes 20-40 s and ~1.1 GB to load TensorFlow and the model), and
stops it on exit. :func:`exec_serve` is for ``carebot nlu serve``: it becomes Rasa, so Ctrl-C and
service managers talk to Rasa directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import NoReturn, Self

from nlu.rasa_client import RasaNluClient
from nlu.rasa_runtime import clean_output_line, rasa_environment, rasa_executable

logger = logging.getLogger(__name__)

DEFAULT_LOG_PATH = Path("var/log/rasa.log")
_POLL_INTERVAL_S = 0.5
_TAIL_LINES = 25
_PORT_ATTEMPTS = 3


class RasaServerError(Exception):
    """Rasa did not come up: it exited or never loaded the model; the message has its log tail."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now.

    Rasa cannot be told to pick a port itself (``-p 0`` would leave us guessing which one it took),
    so the OS picks one for a socket we close at once. Another process could take it in between;
    :class:`RasaServer` notices Rasa failing to bind and tries another port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def rasa_run_command(executable: Path, model: Path, host: str, port: int) -> list[str]:
    """The ``rasa run`` command line that serves ``model`` with the HTTP API on ``host:port``."""
    return [
        str(executable), "run",
        "--enable-api",
        "-m", str(model),
        "-i", host,
        "-p", str(port),
    ]  # fmt: skip


class RasaServer:
    """A Rasa server child process serving one model, as an async context manager.

    ``async with RasaServer(model, venv) as server:`` returns once the model answers, and
    ``server.url`` is its API. On exit Rasa gets SIGTERM, then SIGKILL after ``stop_grace`` seconds.
    Rasa's output goes to ``log_path`` (appended, one header per start) so that a failing start can
    be explained from the file and the exception alike.

    Args:
        model: the trained model archive.
        rasa_venv: the virtual environment with Rasa installed.
        host: the interface to listen on; loopback by default because the API has no authentication.
        port: the port, or None for a free one.
        log_path: where Rasa's output goes.
        startup_timeout: seconds to wait for the model to be loaded.
        stop_grace: seconds between SIGTERM and SIGKILL on exit.
    """

    def __init__(
        self,
        model: Path,
        rasa_venv: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path: Path = DEFAULT_LOG_PATH,
        startup_timeout: float = 180.0,
        stop_grace: float = 10.0,
    ) -> None:
        self._model = model.resolve()
        self._rasa_venv = rasa_venv
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._log_path = log_path
        self._startup_timeout = startup_timeout
        self._stop_grace = stop_grace
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """The HTTP API of the running server, e.g. ``http://127.0.0.1:40123``."""
        if self._port is None:
            raise RuntimeError("the Rasa server is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def log_path(self) -> Path:
        """The file Rasa's output is appended to."""
        return self._log_path

    @property
    def pid(self) -> int | None:
        """The process id of the running Rasa, if any."""
        return self._process.pid if self._process is not None else None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> str:
        """Start Rasa and wait until its model is loaded; return the server's URL.

        Raises:
            RasaEnvironmentMissing: the Rasa venv is not installed.
            FileNotFoundError: the model archive does not exist.
            RasaServerError: Rasa exited or did not load the model within ``startup_timeout``.
        """
        if self._process is not None:
            raise RuntimeError("the Rasa server is already started")
        executable = rasa_executable(self._rasa_venv)
        if not self._model.is_file():
            raise FileNotFoundError(f"no NLU model at {self._model}; run `carebot nlu train` first")
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        attempts = 1 if self._requested_port is not None else _PORT_ATTEMPTS
        if self._requested_port is not None and not port_is_free(self._host, self._requested_port):
            # Checked first: the readiness probe would otherwise take the other server's answer
            # for ours.
            raise RasaServerError(
                f"{self._host}:{self._requested_port} is already in use; is another Rasa server "
                "running? Stop it or choose another port"
            )
        for attempt in range(1, attempts + 1):
            port = self._requested_port or free_port(self._host)
            try:
                await self._start_once(executable, port)
            except _PortTaken:
                if attempt == attempts:
                    raise RasaServerError(
                        f"Rasa could not listen on {self._host}:{port}: the address is in use "
                        f"(see {self._log_path})"
                    ) from None
                logger.info("port %d was taken before Rasa could bind it; trying another", port)
                continue
            return self.url
        raise AssertionError("unreachable")  # pragma: no cover

    async def stop(self) -> None:
        """Stop Rasa: SIGTERM, then SIGKILL after the grace period. Safe to call more than once."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), self._stop_grace)
        except TimeoutError:
            logger.warning(
                "Rasa (pid %d) ignored SIGTERM for %.0f s; killing it",
                process.pid,
                self._stop_grace,
            )
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        logger.info("Rasa (pid %d) stopped", process.pid)

    async def _start_once(self, executable: Path, port: int) -> None:
        with self._log_path.open("ab") as log:
            log_offset = log.tell()
            header = f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} rasa run on {self._host}:{port} "
            log.write(f"\n{header}model {self._model}\n".encode())  # after any unended line
            log.flush()
            # The child inherits its own copy of the descriptor; ours can close right away.
            process = await asyncio.create_subprocess_exec(
                *rasa_run_command(executable, self._model, self._host, port),
                env=rasa_environment(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        self._process = process
        self._port = port
        logger.info("starting Rasa (pid %d) on %s with %s", process.pid, self.url, self._model.name)
        try:
            await self._wait_until_ready(process, log_offset)
        except BaseException:
            await self.stop()
            self._port = None
            raise

    async def _wait_until_ready(self, process: asyncio.subprocess.Process, log_offset: int) -> None:
        """Poll ``GET /status`` until the model is loaded, Rasa exits, or the timeout passes.

        Polling is the only way: Rasa offers no readiness notification, and ``/status`` answers 409
        until the model is loaded.
        """
        started = time.monotonic()
        deadline = started + self._startup_timeout
        exited = asyncio.ensure_future(process.wait())
        try:
            async with RasaNluClient(self.url, timeout=2.0, retries=0) as probe:
                while exited.done() or not await probe.ready():
                    if exited.done():
                        tail = self._log_tail(log_offset)
                        if any("address already in use" in line.lower() for line in tail):
                            raise _PortTaken
                        raise RasaServerError(
                            f"Rasa exited with code {process.returncode} before loading the model "
                            f"(log: {self._log_path}):\n" + "\n".join(tail)
                        )
                    if time.monotonic() > deadline:
                        raise RasaServerError(
                            f"Rasa did not load the model within {self._startup_timeout:.0f} s "
                            f"(log: {self._log_path}):\n" + "\n".join(self._log_tail(log_offset))
                        )
                    await asyncio.wait({exited}, timeout=_POLL_INTERVAL_S)
        finally:
            exited.cancel()
        logger.info("Rasa ready at %s after %.1f s", self.url, time.monotonic() - started)

    def _log_tail(self, offset: int) -> list[str]:
        """The last meaningful lines Rasa wrote to the log since ``offset``."""
        try:
            with self._log_path.open("rb") as log:
                log.seek(offset)
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        lines = (clean_output_line(raw) for raw in text.splitlines())
        return list(deque((line for line in lines if line), maxlen=_TAIL_LINES))


class _PortTaken(Exception):
    """Rasa could not bind the port we picked; another process took it first."""


def exec_serve(
    model: Path,
    rasa_venv: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 5005,
) -> NoReturn:
    """Replace this process with ``rasa run`` serving ``model`` (``carebot nlu serve``).

    Becoming Rasa (rather than supervising it) means Ctrl-C, SIGTERM from a service manager and the
    exit status all belong to Rasa itself, with no middleman to forward them or to linger.

    Raises:
        RasaEnvironmentMissing: the Rasa venv is not installed.
        FileNotFoundError: the model archive does not exist.
    """
    executable = rasa_executable(rasa_venv)
    if not model.is_file():
        raise FileNotFoundError(f"no NLU model at {model}; run `carebot nlu train` first")
    command = rasa_run_command(executable, model.resolve(), host, port)
    logging.shutdown()  # flush our handlers: nothing of ours runs after exec
    # exec resets caught signals but keeps ignored ones: Rasa must stop on Ctrl-C, whatever we got.
    with contextlib.suppress(ValueError):  # only possible from the main thread
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execve(executable, command, rasa_environment())
