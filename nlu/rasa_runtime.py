"""Where the Rasa command line lives and the environment its processes run in.

Training (:mod:`nlu.training`) and serving (:mod:`nlu.rasa_server`) both start ``rasa`` from its own
virtual environment; they share these rules so that a quiet, offline, telemetry-free Rasa is the
only kind carebot ever starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path


class RasaEnvironmentMissing(Exception):
    """The Rasa virtual environment is not installed; the message says how to create it."""


#: Lines Rasa prints that carry no information for carebot. Rasa warns once per FAQ example that the
#: example has no response text: expected, because answers live on the gateway side (nlu/answers).
_NOISE = re.compile(r"You either need to add a response phrase|^\s*warnings\.warn\(|^\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def rasa_executable(rasa_venv: Path) -> Path:
    """The ``rasa`` script of ``rasa_venv``.

    Raises:
        RasaEnvironmentMissing: the venv or its ``rasa`` script does not exist (one-line hint).
    """
    executable = rasa_venv / "bin" / "rasa"
    if not (executable.is_file() and os.access(executable, os.X_OK)):
        raise RasaEnvironmentMissing(
            f"Rasa is not installed in {rasa_venv} (no {executable}): "
            "run `make rasa-venv` (or `make run`, which creates it) first"
        )
    return executable


def rasa_environment(
    base: Mapping[str, str] | None = None, *, cache_dir: Path | None = None
) -> dict[str, str]:
    """The environment for a Rasa subprocess: quiet, offline and without telemetry.

    Args:
        base: the environment to start from; the current process's by default.
        cache_dir: Rasa's training cache directory; None disables the cache, because carebot already
            keeps whole models by the fingerprint of their training data and a second cache would
            only fill the disk.

    Returns:
        A new mapping; ``base`` is not modified.
    """
    env = dict(os.environ if base is None else base)
    # The gateway's venv must not leak into Rasa's interpreter.
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONWARNINGS"):
        env.pop(name, None)
    env.update(
        {
            "RASA_TELEMETRY_ENABLED": "false",  # no phone-home, no first-run prompt
            "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ banner and CPU-feature notices
            "LOG_LEVEL_LIBRARIES": "ERROR",
            "LOG_LEVEL": "INFO",  # below INFO Rasa disables the epoch progress bar we parse
            "CUDA_VISIBLE_DEVICES": "",  # no GPU probing and its warnings on CPU-only machines
            "HF_HUB_OFFLINE": "1",  # never download models or tokenizers
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",  # stream output as it happens, for progress and logs
            "PYTHONIOENCODING": "utf-8",
        }
    )
    if cache_dir is None:
        env["RASA_MAX_CACHE_SIZE"] = "0"
    else:
        env["RASA_CACHE_DIRECTORY"] = str(cache_dir)
    return env


def clean_output_line(line: str) -> str | None:
    """``line`` without colour codes, or None when it is noise not worth showing or keeping."""
    line = _ANSI.sub("", line).rstrip()
    if _NOISE.search(line):
        return None
    return line
