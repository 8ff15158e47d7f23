"""Does the NLU pipeline generalise? Train on 80 % of each FAQ's examples, ask the other 20 %.

Accuracy on the training examples says little (DIET memorises them); what customers type is new
text. So each FAQ's examples are split per language with a fixed seed, a model is trained on 80 %
of them (and on all the non-FAQ intents), and the held-out 20 % must come back as the right FAQ at
least 90 % of the time in every language. Questions outside the shop's business must not come back
as an answerable FAQ at the thresholds the bot really uses, from the held-out model or the
production one.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.messages import NluResult
from bot.settings import Behaviour, load_behaviour
from nlu.rasa_client import FAQ_RETRIEVAL_INTENT, RasaNluClient
from nlu.training import training_data_files
from tests.fixtures.rasa import NLU_PROJECT, ROOT, serve_for_tests, train_for_tests

pytestmark = pytest.mark.rasa

SEED = 20240611
HELD_OUT_FRACTION = 0.2
MIN_ACCURACY = 0.90

OUT_OF_SCOPE = [
    "what's the weather",
    "chi ha vinto la partita",
    "che tempo fa domani",
    "who won the match yesterday",
    "what is the capital of Italy",
    "raccontami una barzelletta",
    "how do I cook risotto",
    "qual è la ricetta della carbonara",
    "what's the price of bitcoin",
    "chi è il presidente della repubblica",
    "can you write me an essay about Napoleon",
    "quanto dista la luna dalla terra",
]


@dataclass(frozen=True)
class HeldOut:
    """One example kept out of training: the question and the FAQ it belongs to."""

    language: str
    faq_key: str
    text: str


def behaviour() -> Behaviour:
    """The thresholds the bot really uses: the shipped ``config/carebot.yml``."""
    return load_behaviour(ROOT / "config" / "carebot.yml")


def is_answerable_faq(result: NluResult, thresholds: Behaviour) -> bool:
    """Whether the engine would answer ``result`` with an FAQ (both confidences over threshold)."""
    return (
        result.intent == FAQ_RETRIEVAL_INTENT
        and result.confidence >= thresholds.nlu.threshold
        and result.faq_key is not None
        and result.faq_confidence >= thresholds.nlu.faq_threshold
    )


def _examples(block: str) -> list[str]:
    return [
        line.strip()[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")
    ]


def split_training_data(data_dir: Path, out_dir: Path) -> list[HeldOut]:
    """Write the 80 % training part of ``data_dir`` to ``out_dir``; return the held-out 20 %.

    The split is per FAQ and per language (the first directory level, ``en/``, ``it/``), seeded by
    the FAQ's name so that adding an FAQ does not reshuffle the others. Non-FAQ intents are kept
    whole: the accuracy measured is the FAQ's, and greetings are what keep "hello" out of the FAQs.
    """
    held_out: list[HeldOut] = []
    for path in training_data_files(data_dir):
        relative = path.relative_to(data_dir)
        language = relative.parts[0]
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        lines = ['version: "3.1"', "nlu:"]
        for item in document.get("nlu") or []:
            intent = item.get("intent", "")
            examples = _examples(item.get("examples", ""))
            if intent.startswith(f"{FAQ_RETRIEVAL_INTENT}/"):
                shuffled = sorted(examples)
                random.Random(f"{SEED}:{language}:{intent}").shuffle(shuffled)
                n_held = max(1, round(len(shuffled) * HELD_OUT_FRACTION))
                held_out.extend(HeldOut(language, intent, text) for text in shuffled[:n_held])
                examples = shuffled[n_held:]
            if intent:
                lines += [f"- intent: {intent}", "  examples: |"]
                lines += [f"    - {text}" for text in examples]
            else:  # synonyms, lookup tables, regexes: training support, kept as they are
                lines.append(yaml.safe_dump([item], allow_unicode=True).rstrip())
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return held_out


@pytest.fixture(scope="module")
def held_out_split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[HeldOut]]:
    data_dir = tmp_path_factory.mktemp("heldout-data")
    held_out = split_training_data(NLU_PROJECT / "data", data_dir)
    assert held_out, "no FAQ examples found in nlu/data"
    return data_dir, held_out


@pytest.fixture(scope="module")
async def held_out_url(
    pytestconfig: pytest.Config, held_out_split: tuple[Path, list[HeldOut]]
) -> AsyncIterator[str]:
    """A second Rasa server, serving the model trained on the 80 % (cached in var/models)."""
    data_dir, _ = held_out_split
    model = await train_for_tests(pytestconfig, "held-out", data_dir=data_dir)
    async with serve_for_tests(model, "rasa-heldout.log") as url:
        yield url


async def test_held_out_faq_accuracy_per_language(
    held_out_url: str, held_out_split: tuple[Path, list[HeldOut]]
) -> None:
    _, held_out = held_out_split
    thresholds = behaviour()
    hits: dict[str, int] = defaultdict(int)
    answerable: dict[str, int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    misses: list[str] = []
    latencies: list[float] = []
    async with RasaNluClient(held_out_url, timeout=10.0) as client:
        for example in held_out:
            started = time.perf_counter()
            result = await client.parse(example.text)
            latencies.append(time.perf_counter() - started)
            totals[example.language] += 1
            if result.intent == FAQ_RETRIEVAL_INTENT and result.faq_key == example.faq_key:
                hits[example.language] += 1
                answerable[example.language] += is_answerable_faq(result, thresholds)
            else:
                misses.append(
                    f"  [{example.language}] {example.text!r}: expected {example.faq_key}, got "
                    f"{result.intent} {result.confidence:.2f} / {result.faq_key} "
                    f"{result.faq_confidence:.2f}"
                )

    accuracy = {language: hits[language] / totals[language] for language in sorted(totals)}
    print("\nheld-out FAQ top-1 accuracy:")
    for language, value in accuracy.items():
        print(
            f"  {language}: {value:.3f} ({hits[language]}/{totals[language]}; "
            f"{answerable[language]} over the thresholds)"
        )
    quantiles = statistics.quantiles(latencies, n=10)
    print(
        f"/model/parse latency: p50 {quantiles[4] * 1000:.1f} ms, p90 {quantiles[8] * 1000:.1f} ms"
    )
    if misses:
        print("misses:\n" + "\n".join(misses))
    assert set(accuracy) >= {"en", "it"}
    for language, value in accuracy.items():
        assert value >= MIN_ACCURACY, f"{language}: held-out accuracy {value:.3f} < {MIN_ACCURACY}"


async def test_out_of_scope_is_not_an_faq_for_the_held_out_model(held_out_url: str) -> None:
    await assert_no_out_of_scope_faq(held_out_url)


async def test_out_of_scope_is_not_an_faq_for_the_project_model(rasa_url: str) -> None:
    await assert_no_out_of_scope_faq(rasa_url)


async def assert_no_out_of_scope_faq(url: str) -> None:
    """None of :data:`OUT_OF_SCOPE` may pass both thresholds as an FAQ."""
    thresholds = behaviour()
    async with RasaNluClient(url, timeout=10.0) as client:
        results = [await client.parse(text) for text in OUT_OF_SCOPE]
    for r in results:
        print(f"  {r.text!r} -> {r.intent} {r.confidence:.2f} / {r.faq_key} {r.faq_confidence:.2f}")
    wrongly_answered = [
        f"{r.text!r} -> {r.intent} {r.confidence:.2f} / {r.faq_key} {r.faq_confidence:.2f}"
        for r in results
        if is_answerable_faq(r, thresholds)
    ]
    assert not wrongly_answered, "out-of-scope questions answered as FAQs:\n" + "\n".join(
        wrongly_answered
    )
