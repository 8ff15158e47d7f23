"""RasaServer's process handling, against a stand-in ``rasa`` that starts in a fraction of a second.

The real server takes 30 s and 1 GB to start; what is tested here (waiting for ``/status``,
reporting a dead or hanging start with its log, SIGTERM then SIGKILL, exec for ``carebot nlu
serve``) does not depend on what answers, so a small stdlib HTTP server plays Rasa. The real one is
exercised by the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from nlu.rasa_runtime import RasaEnvironmentMissing
from nlu.rasa_server import RasaServer, RasaServerError, free_port

FAKE_RASA = textwrap.dedent(
    """\
    #!{python}
    import http.server, json, os, signal, sys, time

    args = sys.argv[1:]
    print("fake rasa", " ".join(args), flush=True)
    mode = os.environ.get("FAKE_RASA_MODE", "ok")
    if mode == "argv":
        sys.exit(0)
    if mode == "die":
        print("OSError: cannot load the model", flush=True)
        sys.exit(3)
    if mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode in ("hang", "ignore-term-hang"):
        time.sleep(600)

    class Status(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({{"model_file": args[args.index("-m") + 1]}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    time.sleep(0.3)  # "loading the model"
    address = (args[args.index("-i") + 1], int(args[args.index("-p") + 1]))
    http.server.HTTPServer(address, Status).serve_forever()
    """
)


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    root = tmp_path / "venv-rasa"
    (root / "bin").mkdir(parents=True)
    rasa = root / "bin" / "rasa"
    rasa.write_text(FAKE_RASA.format(python=sys.executable))
    rasa.chmod(rasa.stat().st_mode | stat.S_IXUSR)
    return root


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "models" / "nlu-0123456789abcdef.tar.gz"
    path.parent.mkdir()
    path.write_bytes(b"model")
    return path


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_start_waits_for_the_model_and_exit_stops_rasa(
    venv: Path, model: Path, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    log_path = tmp_path / "log" / "rasa.log"
    async with RasaServer(model, venv, log_path=log_path, startup_timeout=20) as server:
        pid = server.pid
        assert pid is not None
        async with http.get(f"{server.url}/status") as response:
            assert (await response.json())["model_file"] == str(model)
    assert not alive(pid)
    log = log_path.read_text()
    assert f"-m {model}" in log
    assert "--enable-api" in log
    assert "-i 127.0.0.1" in log


async def test_a_rasa_that_dies_is_reported_with_its_log(
    venv: Path, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_MODE", "die")
    server = RasaServer(model, venv, log_path=tmp_path / "rasa.log")
    with pytest.raises(RasaServerError, match="exited with code 3") as raised:
        await server.start()
    assert "OSError: cannot load the model" in str(raised.value)
    assert server.pid is None


async def test_a_rasa_that_never_loads_times_out_and_is_stopped(
    venv: Path, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_MODE", "hang")
    server = RasaServer(model, venv, log_path=tmp_path / "rasa.log", startup_timeout=1)
    with pytest.raises(RasaServerError, match="within 1 s"):
        await server.start()
    assert server.pid is None


async def test_a_rasa_that_ignores_sigterm_is_killed(
    venv: Path, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_MODE", "ignore-term")
    server = RasaServer(model, venv, log_path=tmp_path / "rasa.log", stop_grace=0.5)
    await server.start()
    pid = server.pid
    assert pid is not None
    await asyncio.wait_for(server.stop(), 5)
    assert not alive(pid)
    await server.stop()  # idempotent


async def test_missing_venv_and_missing_model_are_clear(
    venv: Path, model: Path, tmp_path: Path
) -> None:
    with pytest.raises(RasaEnvironmentMissing, match="make rasa-venv"):
        await RasaServer(model, tmp_path / "nowhere").start()
    with pytest.raises(FileNotFoundError, match="carebot nlu train"):
        await RasaServer(tmp_path / "missing.tar.gz", venv).start()


async def test_a_port_in_use_is_refused_before_starting(
    venv: Path, model: Path, tmp_path: Path
) -> None:
    with socket.socket() as other_server:
        other_server.bind(("127.0.0.1", 0))
        other_server.listen()
        port = other_server.getsockname()[1]
        server = RasaServer(model, venv, port=port, log_path=tmp_path / "rasa.log")
        with pytest.raises(RasaServerError, match="already in use"):
            await server.start()
    assert server.pid is None


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_exec_serve_becomes_rasa(venv: Path, model: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from nlu.rasa_server import exec_serve; "
        "exec_serve(Path(sys.argv[1]), Path(sys.argv[2]), port=5123)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(model), str(venv)],
        env={**os.environ, "FAKE_RASA_MODE": "argv"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.strip() == f"fake rasa run --enable-api -m {model} -i 127.0.0.1 -p 5123"
