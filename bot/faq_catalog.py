"""The FAQ answers, by retrieval-intent response key and language.

Rasa's NLU-only model tells us *which* FAQ was asked (``faq/shipping_cost``); the text we send lives
here, in every configured language, so the answer follows the customer's language rather than the
language of the training example that matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


class CatalogError(Exception):
    """The answers file is missing, malformed, or lacks a language."""


@dataclass(frozen=True, slots=True)
class FaqEntry:
    key: str
    titles: dict[str, str]
    answers: dict[str, str]


class FaqCatalog:
    """Answers by key; falls back to the default language when one is missing."""

    def __init__(self, entries: dict[str, FaqEntry], default_language: str) -> None:
        self._entries = entries
        self._default = default_language

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[str]:
        return sorted(self._entries)

    def answer(self, key: str, language: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        return entry.answers.get(language) or entry.answers.get(self._default)

    def title(self, key: str, language: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        return entry.titles.get(language) or entry.titles.get(self._default) or key

    @classmethod
    def load(cls, path: Path, languages: list[str], default_language: str) -> FaqCatalog:
        """Read ``nlu/answers/faq.yml``; every entry needs an answer in every configured
        language."""
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise CatalogError(f"{path}: file not found") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise CatalogError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(raw, dict):
            raise CatalogError(f"{path}: expected a mapping of FAQ keys")
        entries: dict[str, FaqEntry] = {}
        for key, value in raw.items():
            if not isinstance(value, dict):
                raise CatalogError(f"{path}: {key}: expected a mapping of languages")
            answers = {lang: str(value[lang]).strip() for lang in languages if value.get(lang)}
            missing = [lang for lang in languages if lang not in answers]
            if missing:
                raise CatalogError(f"{path}: {key}: no answer in {', '.join(missing)}")
            titles_raw = value.get("title") or {}
            titles = (
                {str(k): str(v) for k, v in titles_raw.items()}
                if isinstance(titles_raw, dict)
                else {}
            )
            entries[str(key)] = FaqEntry(str(key), titles, answers)
        return cls(entries, default_language)
