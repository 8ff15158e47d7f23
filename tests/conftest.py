"""Session fixtures for tests that need the real Rasa: one trained model and one server per run.

Training takes about a minute and a Rasa server about 30 s and 1 GB to start, so both happen at most
once per test session, and training not even that when ``var/models`` already holds a model with the
training data's fingerprint. Set ``CAREBOT_TEST_RASA_URL`` to test against a server you run yourself
(``carebot nlu serve``) instead of starting one.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.settings import Settings, load_settings
from nlu.rasa_runtime import RasaEnvironmentMissing
from nlu.rasa_server import RasaServer, RasaServerError
from nlu.training import TrainingFailed, ensure_trained

ROOT = Path(__file__).resolve().parent.parent
EXTERNAL_RASA_URL_VARIABLE = "CAREBOT_TEST_RASA_URL"
_MODEL_KEY = pytest.StashKey[Path]()


def rasa_paths() -> Settings:
    """The settings naming the Rasa venv, NLU project and models directory, anchored at the repo."""
    settings = load_settings()
    return settings.model_copy(
        update={
            "rasa_venv": ROOT / settings.rasa_venv,
            "nlu_project": ROOT / settings.nlu_project,
            "models_dir": ROOT / settings.models_dir,
        }
    )


@contextmanager
def uncaptured(config: pytest.Config) -> Iterator[None]:
    """Let a session fixture talk to the terminal while it trains or starts Rasa for a long time."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        yield
        return
    with capture.global_and_fixture_disabled():
        yield


async def train_for_tests(
    config: pytest.Config, label: str, *, data_dir: Path | None = None
) -> Path:
    """``ensure_trained`` reporting each stage on the terminal; a failure fails the test."""
    paths = rasa_paths()
    shown: set[str] = set()

    def report(stage: str, fraction: float | None) -> None:
        if stage not in shown:
            shown.add(stage)
            with uncaptured(config):
                print(f"\n[rasa] {label}: {stage}", flush=True)

    try:
        return await ensure_trained(
            paths.nlu_project, paths.models_dir, paths.rasa_venv, data_dir=data_dir, progress=report
        )
    except (RasaEnvironmentMissing, TrainingFailed) as exc:
        pytest.fail(f"cannot train the {label} NLU model: {exc}", pytrace=False)


async def project_model(config: pytest.Config) -> Path:
    """The model for the project's training data, trained at most once per session."""
    if _MODEL_KEY not in config.stash:
        config.stash[_MODEL_KEY] = await train_for_tests(config, "project")
    return config.stash[_MODEL_KEY]


@pytest.fixture(scope="session")
async def rasa_model(pytestconfig: pytest.Config) -> Path:
    """The trained model archive for ``nlu/``'s current data, in ``var/models``."""
    return await project_model(pytestconfig)


@pytest.fixture(scope="session")
async def rasa_url(pytestconfig: pytest.Config) -> AsyncIterator[str]:
    """The URL of one Rasa server serving the project model for the whole session.

    ``CAREBOT_TEST_RASA_URL`` names an already running server instead; nothing is trained then.
    """
    external = os.environ.get(EXTERNAL_RASA_URL_VARIABLE)
    if external:
        yield external.rstrip("/")
        return
    model = await project_model(pytestconfig)
    server = RasaServer(model, rasa_paths().rasa_venv, log_path=ROOT / "var/log/rasa-test.log")
    try:
        await server.start()
    except RasaServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.url
    finally:
        await server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the real Rasa ``rasa``, so ``-m "not rasa"`` skips them all."""
    for item in items:
        if {"rasa_model", "rasa_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.rasa)
