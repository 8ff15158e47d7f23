"""Language detection for short customer messages, trained on the project's own NLU examples.

General-purpose detectors are unreliable on three-word chat messages ("ciao grazie", "ok thanks")
and
would need a model download; our training data is already split by language (``nlu/data/<lang>/``)
and
written in exactly the register customers use. A character n-gram naive Bayes over it is tiny, fast
(microseconds per message) and accurate on this domain. It implements
:class:`bot.interfaces.LanguageDetector`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from bot.text_matching import normalize

_ORDERS = (1, 2, 3, 4)
# Pseudo-words of "no idea" mixed into every estimate (see NgramLanguageDetector.detect).
SHORT_TEXT_PRIOR = 2
_WORD = re.compile(r"\w+")


def _features(text: str) -> list[str]:
    normalized = f" {normalize(text)} "
    grams = [normalized[i : i + n] for n in _ORDERS for i in range(len(normalized) - n + 1)]
    grams.extend(f"w:{w}" for w in _WORD.findall(normalized))
    return grams


class NgramLanguageDetector:
    """Multinomial naive Bayes over character 1-4-grams and words, with Laplace smoothing."""

    def __init__(self, examples: Mapping[str, Iterable[str]]) -> None:
        self._counts: dict[str, Counter[str]] = {}
        self._totals: dict[str, int] = {}
        vocabulary: set[str] = set()
        for language, texts in examples.items():
            counter: Counter[str] = Counter()
            for text in texts:
                counter.update(_features(text))
            self._counts[language] = counter
            self._totals[language] = sum(counter.values())
            vocabulary.update(counter)
        if len(self._counts) < 1:
            raise ValueError("language detection needs examples in at least one language")
        self._vocabulary = max(1, len(vocabulary))
        # Every known feature's log-probability in each language, computed once: scoring a message
        # is then one dictionary lookup per feature instead of a logarithm per feature and language.
        self._order = tuple(self._counts)
        denominators = [self._totals[lang] + self._vocabulary for lang in self._order]
        self._unseen = tuple(-math.log(d) for d in denominators)
        self._log_probabilities = {
            feature: tuple(
                math.log((self._counts[lang].get(feature, 0) + 1) / d)
                for lang, d in zip(self._order, denominators, strict=True)
            )
            for feature in vocabulary
        }

    @property
    def languages(self) -> list[str]:
        return sorted(self._counts)

    def detect(self, text: str) -> tuple[str, float] | None:
        """``(language, posterior probability)``, or None when the text has no letters."""
        features = [f for f in _features(text) if f.strip()]
        if not any(ch.isalpha() for ch in text):
            return None
        if len(self._counts) == 1:
            return next(iter(self._counts)), 1.0
        totals = [0.0] * len(self._order)
        lookup, unseen = self._log_probabilities.get, self._unseen
        for feature in features:
            for index, value in enumerate(lookup(feature, unseen)):
                totals[index] += value
        scores = dict(zip(self._order, totals, strict=True))
        best = max(scores, key=lambda lang: scores[lang])
        # Softmax over log-likelihoods, tempered by the number of features (they are not
        # independent).
        temperature = max(1.0, len(features) / 8)
        top = scores[best]
        weights = {lang: math.exp((s - top) / temperature) for lang, s in scores.items()}
        posterior = weights[best] / sum(weights.values())
        # Shrink towards "don't know" for very short texts: "ok" or "grazie mille" say little, and a
        # conversation should not switch language on them.
        words = len(_WORD.findall(text))
        chance = 1 / len(self._counts)
        confidence = (posterior * words + chance * SHORT_TEXT_PRIOR) / (words + SHORT_TEXT_PRIOR)
        return best, confidence


def load_examples(data_dir: Path, languages: Iterable[str]) -> dict[str, list[str]]:
    """Every training example under ``data_dir/<language>/*.yml``, by language."""
    examples: dict[str, list[str]] = {}
    for language in languages:
        texts: list[str] = []
        for path in sorted((data_dir / language).glob("*.yml")):
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for block in document.get("nlu", []) or []:
                raw = block.get("examples", "") if isinstance(block, dict) else ""
                texts.extend(
                    line.strip()[2:].strip()
                    for line in str(raw).splitlines()
                    if line.strip().startswith("- ")
                )
        examples[language] = texts
    return examples


def detector_from_project(
    data_dir: Path, languages: Iterable[str], extra: Mapping[str, Iterable[str]] | None = None
) -> NgramLanguageDetector:
    """Train the detector on the NLU data (plus e.g. the configured texts in each language)."""
    examples = load_examples(data_dir, languages)
    for language, texts in (extra or {}).items():
        examples.setdefault(language, []).extend(texts)
    return NgramLanguageDetector({k: v for k, v in examples.items() if v})
