"""``carebot nlu train`` and ``carebot nlu serve``: the gateway's side of running Rasa.

Training shows a progress bar parsed from Rasa's own output and is skipped when a model for the same
training data (by hash) already exists.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bot.settings import Settings
from nlu.rasa_runtime import rasa_executable
from nlu.rasa_server import exec_serve
from nlu.training import (
    RasaEnvironmentMissing,
    TrainingFailed,
    ensure_trained,
    model_path,
    training_fingerprint,
)


class NluCommandError(Exception):
    """Training or serving cannot start; a one-line message for the user."""


def train_model(settings: Settings, *, force: bool = False, quiet: bool = False) -> Path:
    """Train if needed, showing progress on stderr; returns the model's path."""
    # Absolute paths: Rasa runs in a scratch directory, where relative ones would point nowhere.
    project, models = settings.nlu_project.resolve(), settings.models_dir.resolve()
    rasa_venv = settings.rasa_venv.absolute()
    existing = model_path(models, training_fingerprint(project))
    if existing.exists() and not force:
        if not quiet:
            print(f"model is up to date: {existing}", file=sys.stderr)
        return existing
    try:
        rasa_executable(rasa_venv)  # fail with one line before drawing a progress bar
    except RasaEnvironmentMissing as exc:
        raise NluCommandError(str(exc)) from None
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=quiet,
    ) as progress:
        task = progress.add_task("training NLU", total=1.0)

        def report(stage: str, fraction: float | None) -> None:
            progress.update(task, description=f"training NLU: {stage}")
            if fraction is not None:
                progress.update(task, completed=fraction)

        try:
            path = asyncio.run(
                ensure_trained(project, models, rasa_venv, progress=report, force=force)
            )
        except (RasaEnvironmentMissing, TrainingFailed) as exc:
            raise NluCommandError(str(exc).splitlines()[0]) from None
        progress.update(task, completed=1.0, description="training NLU: done")
    if not quiet:
        print(f"model: {path}", file=sys.stderr)
    return path


def train(settings: Settings, *, force: bool) -> int:
    train_model(settings, force=force)
    return 0


def rasa_port(settings: Settings) -> int:
    return urlsplit(settings.rasa_url).port or 5005


def serve_rasa(settings: Settings, *, port: int | None) -> int:
    """Train if needed, then run Rasa in the foreground (Ctrl-C stops it)."""
    model = train_model(settings)
    try:
        exec_serve(model, settings.rasa_venv.absolute(), port=port or rasa_port(settings))
    except RasaEnvironmentMissing as exc:
        raise NluCommandError(str(exc).splitlines()[0]) from None
