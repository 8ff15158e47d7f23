"""Train the Rasa NLU model only when its training data changed.

A model is named after the fingerprint of everything that shapes it (pipeline, domain, training
data), so "is the model up to date?" is a file lookup instead of a two-minute training, and models
for different data (the project's, a held-out subset) live side by side in ``var/models``. Rasa is
run as a subprocess from its own venv; its progress bar is parsed so the CLI can draw its own.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from nlu.rasa_runtime import (
    RasaEnvironmentMissing,
    clean_output_line,
    rasa_environment,
    rasa_executable,
)

__all__ = [
    "KEEP_MODELS",
    "STAGE_DONE",
    "STAGE_STARTING",
    "STAGE_UP_TO_DATE",
    "ProgressCallback",
    "RasaEnvironmentMissing",
    "TrainingFailed",
    "ensure_trained",
    "model_path",
    "training_data_files",
    "training_fingerprint",
]

logger = logging.getLogger(__name__)

#: ``progress(stage, fraction)``: ``stage`` is one of the STAGE_* values or the name of the Rasa
#: component being trained (``DIETClassifier``, ``ResponseSelector``); ``fraction`` is that stage's
#: completion in [0, 1], or None when Rasa gives no measure (loading, featurizing).
ProgressCallback = Callable[[str, float | None], None]

STAGE_STARTING = "starting"
STAGE_DONE = "done"
STAGE_UP_TO_DATE = "up to date"

# Bumped when the fingerprint's recipe changes, so old names cannot collide with new meanings.
_FINGERPRINT_VERSION = b"carebot-nlu-fingerprint-v1\n"
_MODEL_PREFIX = "nlu-"
_TEMP_PREFIX = ".training-"
_STALE_TEMP_AGE_S = 6 * 3600
_TAIL_LINES = 30
_TERMINATE_GRACE_S = 5.0
#: Models kept in ``models_dir``: the project's and the held-out test's, plus a few to go back to.
KEEP_MODELS = 5

_COMPONENT_START = re.compile(r"Starting to train component '(?P<name>[^']+)'")
_EPOCHS = re.compile(r"Epochs:\s*\d+%\|[^|]*\|\s*(?P<done>\d+)/(?P<total>\d+)")


class TrainingFailed(Exception):
    """Rasa could not train a model; the message ends with the last lines Rasa printed.

    Attributes:
        output_tail: the last lines of Rasa's output, noise removed.
    """

    def __init__(self, message: str, output_tail: list[str]) -> None:
        details = "\n".join(output_tail)
        super().__init__(f"{message}\n{details}" if details else message)
        self.output_tail = output_tail


def training_data_files(data_dir: Path) -> list[Path]:
    """Every YAML file Rasa will read from ``data_dir``, sorted by path for a stable order."""
    files = [p for p in data_dir.rglob("*") if p.is_file() and p.suffix in {".yml", ".yaml"}]
    return sorted(files, key=lambda p: p.relative_to(data_dir).as_posix())


def training_fingerprint(project: Path, *, data_dir: Path | None = None) -> str:
    """The SHA-256 over everything that shapes the model, as 64 hex digits.

    Covers ``config.yml``, ``domain.yml`` and every ``data/**/*.yml``, each with its relative name,
    in path order: renaming or moving a file changes the fingerprint as surely as editing it does,
    and nothing else (timestamps, editor backups with other suffixes) does.

    Args:
        project: the Rasa project directory (``nlu/``).
        data_dir: training data to use instead of ``project/data`` (a held-out subset); its files
            are named relative to it, so a copy of the project's data has the project's fingerprint.

    Raises:
        FileNotFoundError: ``config.yml`` or ``domain.yml`` is missing.
    """
    data_dir = project / "data" if data_dir is None else data_dir
    digest = hashlib.sha256(_FINGERPRINT_VERSION)
    for name, path in _fingerprinted_files(project, data_dir):
        content = path.read_bytes()
        digest.update(name.encode() + b"\0" + str(len(content)).encode() + b"\0" + content)
    return digest.hexdigest()


def _fingerprinted_files(project: Path, data_dir: Path) -> Iterator[tuple[str, Path]]:
    yield "config.yml", project / "config.yml"
    yield "domain.yml", project / "domain.yml"
    if data_dir.is_dir():
        for path in training_data_files(data_dir):
            yield f"data/{path.relative_to(data_dir).as_posix()}", path


def model_path(models_dir: Path, fingerprint: str) -> Path:
    """Where the model trained from data with ``fingerprint`` is kept.

    Sixteen hex digits (64 bits) keep the name readable while a collision stays out of reach.
    """
    return models_dir / f"{_MODEL_PREFIX}{fingerprint[:16]}.tar.gz"


async def ensure_trained(
    project: Path,
    models_dir: Path,
    rasa_venv: Path,
    *,
    data_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    force: bool = False,
) -> Path:
    """Return the model for the current training data, training it first if there is none.

    Rasa trains into a temporary directory next to the final path and the archive is renamed into
    place only after Rasa succeeded, so a killed or failed training never leaves a half-written
    model that a later run would take for a good one. Cancelling the awaiting task stops Rasa.

    Args:
        project: the Rasa project directory holding ``config.yml``, ``domain.yml`` and ``data/``.
        models_dir: where models are kept (``var/models``); created if missing.
        rasa_venv: the virtual environment with Rasa installed (``.venv-rasa``).
        data_dir: training data to use instead of ``project/data``.
        progress: called with ``(stage, fraction)`` as training advances (see
            :data:`ProgressCallback`).
        force: train even if a model with this fingerprint exists.

    Returns:
        The path of the model archive.

    Raises:
        RasaEnvironmentMissing: ``rasa_venv`` has no ``rasa``; the message says which make target
            creates it.
        TrainingFailed: the project is incomplete, or Rasa failed or wrote no model; the message
            ends with Rasa's last output lines.
    """
    data_dir = project / "data" if data_dir is None else data_dir
    _check_project(project, data_dir)
    fingerprint = training_fingerprint(project, data_dir=data_dir)
    target = model_path(models_dir, fingerprint)
    report = progress or _no_progress
    if target.is_file() and not force:
        logger.info("NLU model %s is up to date", target)
        _mark_used(target)
        report(STAGE_UP_TO_DATE, 1.0)
        return target

    executable = rasa_executable(rasa_venv)
    workdir = _prepare_workdir(models_dir)
    try:
        # Train from a snapshot, so that data edited during a training cannot end up in a model
        # named after the data as it was before (or the other way round).
        snapshot = _snapshot(project, data_dir, workdir / "project")
        target = model_path(models_dir, training_fingerprint(snapshot))
        name = target.name.removesuffix(".tar.gz")
        command = [
            str(executable), "train", "nlu",
            "--config", str(snapshot / "config.yml"),
            "--domain", str(snapshot / "domain.yml"),
            "--nlu", str(snapshot / "data"),
            "--out", str(workdir),
            "--fixed-model-name", name,
        ]  # fmt: skip
        logger.info("training NLU model %s from %s", target.name, data_dir)
        started = time.monotonic()
        report(STAGE_STARTING, None)
        returncode, tail = await _run_streaming(command, cwd=workdir, progress=report)
        produced = workdir / target.name
        if returncode != 0:
            raise TrainingFailed(f"Rasa training failed with exit code {returncode}:", tail)
        if not produced.is_file():
            raise TrainingFailed("Rasa finished without writing a model:", tail)
        os.replace(produced, target)
        logger.info("trained %s in %.0f s", target, time.monotonic() - started)
        _prune_models(models_dir, keep=KEEP_MODELS)
        report(STAGE_DONE, 1.0)
        return target
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _mark_used(model: Path) -> None:
    """Touch a reused model, so that pruning takes its mtime for "last used"."""
    with contextlib.suppress(OSError):
        os.utime(model)


def _prune_models(models_dir: Path, *, keep: int) -> None:
    """Delete all but the ``keep`` most recently used models (each is tens of megabytes).

    Every edit of the training data makes a new model, so without pruning ``var/models`` grows by
    one archive per edit. A deleted model that is needed again is simply retrained.
    """
    models = sorted(
        models_dir.glob(f"{_MODEL_PREFIX}*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for old in models[keep:]:
        logger.info("removing old NLU model %s", old)
        with contextlib.suppress(OSError):
            old.unlink()


def _snapshot(project: Path, data_dir: Path, destination: Path) -> Path:
    """Copy exactly the fingerprinted files into ``destination``, laid out as a project."""
    for name, source in _fingerprinted_files(project, data_dir):
        copy = destination / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
    return destination


def _check_project(project: Path, data_dir: Path) -> None:
    for required in (project / "config.yml", project / "domain.yml"):
        if not required.is_file():
            raise TrainingFailed(f"the NLU project has no {required}", [])
    if not data_dir.is_dir() or not training_data_files(data_dir):
        raise TrainingFailed(f"no training data (*.yml) in {data_dir}", [])


def _no_progress(stage: str, fraction: float | None) -> None:
    """The progress callback used when the caller gave none."""


def _prepare_workdir(models_dir: Path) -> Path:
    """A fresh work directory inside ``models_dir``, so the final rename stays on one filesystem.

    Also deletes work directories of trainings killed long ago (a live one is never that old).
    These are a few local file-system calls, not worth a thread hop.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for path in models_dir.glob(f"{_TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > _STALE_TEMP_AGE_S:
                shutil.rmtree(path, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=models_dir))


async def _run_streaming(
    command: list[str], *, cwd: Path, progress: ProgressCallback
) -> tuple[int, list[str]]:
    """Run Rasa, feeding its output to ``progress`` as it comes, and return (exit code, tail).

    Rasa's progress bar (tqdm) redraws with carriage returns, so output is split on both ``\\r`` and
    ``\\n``; stderr is merged into stdout because Rasa prints errors and the bar there.
    """
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env=rasa_environment(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    parser = _OutputParser(progress)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    assert process.stdout is not None
    try:
        while chunk := await process.stdout.read(65536):
            parser.feed(decoder.decode(chunk))
        parser.feed(decoder.decode(b"", final=True) + "\n")
        returncode = await process.wait()
    finally:
        if process.returncode is None:
            await _stop(process)
    return returncode, list(parser.tail)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Terminate Rasa, killing it if it does not exit within the grace period."""
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), _TERMINATE_GRACE_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


class _OutputParser:
    """Turns Rasa's output stream into progress calls and a tail of meaningful lines."""

    def __init__(self, progress: ProgressCallback) -> None:
        self._progress = progress
        self._pending = ""
        self._stage = STAGE_STARTING
        self._last: tuple[str, float | None] | None = None
        self.tail: deque[str] = deque(maxlen=_TAIL_LINES)

    def feed(self, text: str) -> None:
        *complete, self._pending = re.split(r"[\r\n]", self._pending + text)
        for raw in complete:
            line = clean_output_line(raw)
            if line is not None:
                self._line(line)

    def _line(self, line: str) -> None:
        if epochs := _EPOCHS.search(line):
            total = int(epochs["total"])
            self._report(self._stage, int(epochs["done"]) / total if total else None)
            return
        self.tail.append(line)
        logger.debug("rasa: %s", line)
        if component := _COMPONENT_START.search(line):
            self._stage = component["name"]
            self._report(self._stage, None)

    def _report(self, stage: str, fraction: float | None) -> None:
        if (stage, fraction) != self._last:
            self._last = (stage, fraction)
            self._progress(stage, fraction)
