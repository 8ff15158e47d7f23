"""Fingerprinting and the training driver, without real training.

The driver is exercised against a stand-in ``rasa`` script that prints what Rasa prints (progress
bars redrawn with carriage returns, component lines) and writes an archive where ``--out`` says, so
the argument passing, progress parsing and atomic rename are tested in milliseconds.
"""

from __future__ import annotations

import os
import shutil
import stat
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from nlu.training import (
    KEEP_MODELS,
    STAGE_DONE,
    STAGE_STARTING,
    STAGE_UP_TO_DATE,
    RasaEnvironmentMissing,
    TrainingFailed,
    ensure_trained,
    model_path,
    training_fingerprint,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "nlu"
    (root / "data" / "en").mkdir(parents=True)
    (root / "data" / "it").mkdir()
    (root / "config.yml").write_text("language: xx\npipeline: []\n")
    (root / "domain.yml").write_text('version: "3.1"\nintents: [faq, greet]\n')
    (root / "data" / "en" / "faq.yml").write_text("nlu:\n- intent: faq/a\n  examples: |\n    - a\n")
    (root / "data" / "it" / "faq.yml").write_text("nlu:\n- intent: faq/a\n  examples: |\n    - b\n")
    return root


def fake_rasa_venv(tmp_path: Path, script_body: str) -> Path:
    """A venv whose ``bin/rasa`` is a shell script running ``script_body``.

    The script sees ``$NLU``, ``$OUT`` and ``$NAME`` parsed from its arguments, and leaves the
    arguments in ``bin/args`` and the training files it was given in ``bin/files``.
    """
    venv = tmp_path / "venv-rasa"
    (venv / "bin").mkdir(parents=True)
    rasa = venv / "bin" / "rasa"
    prologue = textwrap.dedent(
        """\
        #!/bin/sh
        echo "$@" > "$(dirname "$0")/args"
        while [ $# -gt 0 ]; do
          case "$1" in
            --nlu) NLU="$2"; shift ;;
            --out) OUT="$2"; shift ;;
            --fixed-model-name) NAME="$2"; shift ;;
          esac
          shift
        done
        (cd "$NLU" && find . -type f | cut -c3- | sort) > "$(dirname "$0")/files"
        """
    )
    rasa.write_text(prologue + textwrap.dedent(script_body))
    rasa.chmod(rasa.stat().st_mode | stat.S_IXUSR)
    return venv


SUCCESSFUL_TRAINING = r"""
printf '\033[93mwarnings.warn(\033[0m\n'
printf "UserWarning: Your training data contains an example 'a...' for the 'faq/a' intent. "
printf "You either need to add a response phrase or correct the intent\n"
printf "INFO rasa.engine.training.hooks - Starting to train component 'DIETClassifier'.\n"
printf 'Epochs:   0%%|          | 0/4 [00:00<?, ?it/s]\r'
printf 'Epochs:  50%%|#####     | 2/4 [00:01<00:01, 2.0it/s, t_loss=1.2, i_acc=0.9]\r'
printf 'Epochs: 100%%|##########| 4/4 [00:02<00:00, 2.0it/s, t_loss=0.5, i_acc=1]\n'
printf "INFO rasa.engine.training.hooks - Starting to train component 'ResponseSelector'.\n"
printf 'Epochs: 100%%|##########| 2/2 [00:01<00:00, 2.0it/s]\n'
printf 'model' > "$OUT/$NAME.tar.gz"
"""


# ---------------------------------------------------------------------------------------------
# fingerprint


def test_fingerprint_is_stable_hex(project: Path) -> None:
    first = training_fingerprint(project)
    assert first == training_fingerprint(project)
    assert len(first) == 64
    int(first, 16)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: (p / "config.yml").write_text("language: xx\npipeline: [x]\n"),
        lambda p: (p / "domain.yml").write_text('version: "3.1"\nintents: [faq]\n'),
        lambda p: (p / "data/it/faq.yml").write_text("nlu: []\n"),
        lambda p: (p / "data/en/faq.yml").rename(p / "data/en/faqs.yml"),
        lambda p: (p / "data/en/more.yaml").write_text("nlu: []\n"),
        lambda p: (p / "data/it/faq.yml").unlink(),
    ],
    ids=["config", "domain", "data", "rename", "new-file", "removed-file"],
)
def test_fingerprint_changes_with_anything_that_shapes_the_model(
    project: Path, change: Callable[[Path], object]
) -> None:
    before = training_fingerprint(project)
    change(project)
    assert training_fingerprint(project) != before


def test_fingerprint_ignores_what_rasa_does_not_read(project: Path) -> None:
    before = training_fingerprint(project)
    (project / "data" / "notes.txt").write_text("not training data")
    (project / "data" / "en" / "faq.yml~").write_text("an editor backup")
    (project / "answers").mkdir()
    (project / "answers" / "faq.yml").write_text("answers are looked up, not trained")
    os.utime(project / "config.yml", (0, 0))
    assert training_fingerprint(project) == before


def test_fingerprint_of_a_data_dir_override(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(project / "data", copy)
    assert training_fingerprint(project, data_dir=copy) == training_fingerprint(project)
    (copy / "it" / "faq.yml").unlink()
    assert training_fingerprint(project, data_dir=copy) != training_fingerprint(project)


def test_model_path_names_the_model_after_the_fingerprint(tmp_path: Path) -> None:
    fingerprint = "0123456789abcdef" + "f" * 48
    assert model_path(tmp_path, fingerprint) == tmp_path / "nlu-0123456789abcdef.tar.gz"


# ---------------------------------------------------------------------------------------------
# ensure_trained


async def test_missing_rasa_venv_says_how_to_create_it(project: Path, tmp_path: Path) -> None:
    with pytest.raises(RasaEnvironmentMissing) as raised:
        await ensure_trained(project, tmp_path / "models", tmp_path / "no-such-venv")
    message = str(raised.value)
    assert "make rasa-venv" in message
    assert "make run" in message
    assert "\n" not in message


async def test_an_existing_model_is_reused_without_rasa(project: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    existing = model_path(models, training_fingerprint(project))
    existing.write_bytes(b"trained before")
    calls: list[tuple[str, float | None]] = []

    found = await ensure_trained(
        project, models, tmp_path / "no-such-venv", progress=lambda *c: calls.append(c)
    )

    assert found == existing
    assert calls == [(STAGE_UP_TO_DATE, 1.0)]


async def test_training_streams_progress_and_renames_into_place(
    project: Path, tmp_path: Path
) -> None:
    venv = fake_rasa_venv(tmp_path, SUCCESSFUL_TRAINING)
    models = tmp_path / "models"
    calls: list[tuple[str, float | None]] = []

    trained = await ensure_trained(project, models, venv, progress=lambda *c: calls.append(c))

    assert trained == model_path(models, training_fingerprint(project))
    assert trained.read_bytes() == b"model"
    assert sorted(p.name for p in models.iterdir()) == [trained.name]  # no work directory left
    assert calls == [
        (STAGE_STARTING, None),
        ("DIETClassifier", None),
        ("DIETClassifier", 0.0),
        ("DIETClassifier", 0.5),
        ("DIETClassifier", 1.0),
        ("ResponseSelector", None),
        ("ResponseSelector", 1.0),
        (STAGE_DONE, 1.0),
    ]
    args = (venv / "bin" / "args").read_text().split()
    assert args[:2] == ["train", "nlu"]
    assert args[args.index("--fixed-model-name") + 1] == trained.name.removesuffix(".tar.gz")
    # Rasa trained from a snapshot of exactly the fingerprinted files.
    assert Path(args[args.index("--config") + 1]).name == "config.yml"
    assert Path(args[args.index("--domain") + 1]).name == "domain.yml"
    assert (
        Path(args[args.index("--nlu") + 1]).parent == Path(args[args.index("--config") + 1]).parent
    )


async def test_force_retrains_and_data_dir_overrides_the_data(
    project: Path, tmp_path: Path
) -> None:
    venv = fake_rasa_venv(tmp_path, SUCCESSFUL_TRAINING)
    models = tmp_path / "models"
    subset = tmp_path / "subset"
    shutil.copytree(project / "data" / "en", subset / "en")

    first = await ensure_trained(project, models, venv, data_dir=subset)
    first.write_bytes(b"stale")
    again = await ensure_trained(project, models, venv, data_dir=subset, force=True)

    assert again == first == model_path(models, training_fingerprint(project, data_dir=subset))
    assert again.read_bytes() == b"model"
    assert (venv / "bin" / "files").read_text().split() == ["en/faq.yml"]


async def test_data_edited_during_training_does_not_mislabel_the_model(
    project: Path, tmp_path: Path
) -> None:
    italian = project / "data" / "it" / "faq.yml"
    original = italian.read_text()
    # Rasa "trains" on the Italian file it was given, while someone saves a new version of it.
    venv = fake_rasa_venv(
        tmp_path,
        f"""\
        printf 'nlu: []\\n' > {italian}
        cat "$NLU/it/faq.yml" > "$OUT/$NAME.tar.gz"
        """,
    )
    before = training_fingerprint(project)

    trained = await ensure_trained(project, tmp_path / "models", venv)

    assert trained == model_path(tmp_path / "models", before)
    assert trained.read_text() == original  # the model holds the data its name says
    assert training_fingerprint(project) != before  # and the next run trains the edited data


async def test_training_keeps_only_the_most_recently_used_models(
    project: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    others = [models / f"nlu-{i:016x}.tar.gz" for i in range(KEEP_MODELS)]
    for age, path in enumerate(others):  # others[0] is the oldest
        path.write_bytes(b"older model")
        os.utime(path, (1000 + age, 1000 + age))
    reused = model_path(models, training_fingerprint(project))
    reused.write_bytes(b"trained long ago")
    os.utime(reused, (1, 1))  # the oldest of all, until it is used again
    assert await ensure_trained(project, models, tmp_path / "no-such-venv") == reused
    (project / "config.yml").write_text("language: xx\npipeline: [changed]\n")

    trained = await ensure_trained(project, models, fake_rasa_venv(tmp_path, SUCCESSFUL_TRAINING))

    kept = {path.name for path in models.iterdir()}
    assert kept == {trained.name, reused.name} | {path.name for path in others[2:]}
    assert len(kept) == KEEP_MODELS


async def test_failed_training_reports_the_tail_and_leaves_no_model(
    project: Path, tmp_path: Path
) -> None:
    venv = fake_rasa_venv(
        tmp_path,
        """\
        printf 'half' > "$OUT/$NAME.tar.gz"
        echo "InvalidConfigException: the pipeline is broken" >&2
        exit 1
        """,
    )
    models = tmp_path / "models"

    with pytest.raises(TrainingFailed) as raised:
        await ensure_trained(project, models, venv)

    assert "exit code 1" in str(raised.value)
    assert raised.value.output_tail == ["InvalidConfigException: the pipeline is broken"]
    assert list(models.iterdir()) == []


async def test_training_that_writes_no_model_fails(project: Path, tmp_path: Path) -> None:
    venv = fake_rasa_venv(tmp_path, "echo \"Path 'data' doesn't contain valid NLU data\"\n")
    with pytest.raises(TrainingFailed, match="without writing a model"):
        await ensure_trained(project, tmp_path / "models", venv)


async def test_no_training_data_fails_before_starting_rasa(project: Path, tmp_path: Path) -> None:
    shutil.rmtree(project / "data")
    with pytest.raises(TrainingFailed, match="no training data"):
        await ensure_trained(project, tmp_path / "models", tmp_path / "no-such-venv")
