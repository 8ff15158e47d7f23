"""Session fixtures for tests that need the real Rasa: one trained model and one server per run.

Tests using ``rasa_model`` or ``rasa_url`` are marked ``rasa`` automatically, so ``-m "not rasa"``
runs everything else without the Rasa venv. Set ``CAREBOT_TEST_RASA_URL`` to test against a server
you run yourself (``carebot nlu serve``) instead of starting one.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fixtures.rasa import EXTERNAL_RASA_URL_VARIABLE, project_model, serve_for_tests


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
    async with serve_for_tests(model, "rasa-test.log") as url:
        yield url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the real Rasa ``rasa``, so ``-m "not rasa"`` skips them all."""
    for item in items:
        if {"rasa_model", "rasa_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.rasa)
