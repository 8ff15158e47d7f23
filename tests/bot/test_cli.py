"""The command line: help everywhere, one-line errors with exit code 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def carebot(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAREBOT_")}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=cwd,
        input=stdin,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *, contains: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("carebot")
    assert contains in lines[0]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["shell"],
        ["nlu"],
        ["nlu", "train"],
        ["nlu", "serve"],
        ["db"],
        ["db", "upgrade"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = carebot(*command, "--help")
    assert result.returncode == 0
    assert "usage: carebot" in result.stdout


def test_unknown_command() -> None:
    assert_one_line_error(carebot("frobnicate"), contains="invalid choice")


def test_bad_argument_value() -> None:
    assert_one_line_error(carebot("serve", "--port", "eighty"), contains="--port")


def test_bad_environment_value() -> None:
    result = carebot("db", "upgrade", env={"CAREBOT_PORT": "abc"})
    assert_one_line_error(result, contains="CAREBOT_PORT")


def test_secret_values_are_never_echoed(tmp_path: Path) -> None:
    result = carebot(
        "db",
        "upgrade",
        env={"CAREBOT_TELEGRAM_MODE": "carrier-pigeon", "CAREBOT_ADMIN_TOKEN": "s3cr3t-token"},
    )
    assert_one_line_error(result, contains="CAREBOT_TELEGRAM_MODE")
    assert "s3cr3t-token" not in result.stderr


def test_bad_value_in_the_behaviour_file(tmp_path: Path) -> None:
    config = tmp_path / "carebot.yml"
    config.write_text("nlu:\n  threshold: 2\n")
    result = carebot("shell", env={"CAREBOT_CONFIG": str(config)}, stdin="")
    assert_one_line_error(result, contains="nlu.threshold")


def test_unknown_key_in_the_behaviour_file(tmp_path: Path) -> None:
    config = tmp_path / "carebot.yml"
    config.write_text("nlu:\n  treshold: 0.5\n")
    result = carebot("shell", env={"CAREBOT_CONFIG": str(config)}, stdin="")
    assert_one_line_error(result, contains="treshold")


def test_behaviour_file_without_the_bot_texts(tmp_path: Path) -> None:
    config = tmp_path / "carebot.yml"
    config.write_text("languages: [en]\ndefault_language: en\n")
    result = carebot("shell", env={"CAREBOT_CONFIG": str(config)}, stdin="")
    assert_one_line_error(result, contains="texts: missing greet")


def test_missing_behaviour_file(tmp_path: Path) -> None:
    result = carebot("shell", env={"CAREBOT_CONFIG": str(tmp_path / "nope.yml")}, stdin="")
    assert_one_line_error(result, contains="not found")


def test_missing_rasa_environment(tmp_path: Path) -> None:
    result = carebot(
        "nlu",
        "train",
        "--force",
        env={
            "CAREBOT_RASA_VENV": str(tmp_path / "no-venv"),
            "CAREBOT_MODELS_DIR": str(tmp_path / "models"),
        },
    )
    assert_one_line_error(result, contains="make")


def test_unsupported_database_url() -> None:
    result = carebot("db", "upgrade", env={"CAREBOT_DATABASE_URL": "mysql://root@localhost/x"})
    assert_one_line_error(result, contains="CAREBOT_DATABASE_URL")


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'carebot.db'}"
    first = carebot("db", "upgrade", env={"CAREBOT_DATABASE_URL": url})
    assert first.returncode == 0, first.stderr
    again = carebot("db", "upgrade", env={"CAREBOT_DATABASE_URL": url})
    assert again.returncode == 0
    assert (tmp_path / "sub" / "carebot.db").exists()
