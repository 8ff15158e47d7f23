"""Keyword matching before the NLU: whole words, accent- and case-insensitive."""

from __future__ import annotations

from bot.text_matching import PhraseSet


def test_a_phrase_is_found_as_whole_words_whatever_the_accents_and_case() -> None:
    phrases = PhraseSet(["parlare con una persona", "operatore", "Agent"])
    assert phrases.find("Vorrei PARLARE con una persona, grazie!") == "parlare con una persona"
    assert phrases.find("un operatóre per favore") == "operatore"
    assert phrases.find("I need an agent.") == "Agent"


def test_part_of_a_word_is_not_a_match() -> None:
    phrases = PhraseSet(["agent"])
    assert phrases.find("the agents are busy") is None
    assert phrases.find("reagent") is None


def test_an_empty_set_finds_nothing_and_is_false() -> None:
    assert not PhraseSet(["", "!!"])
    assert PhraseSet([]).find("operatore") is None


def test_the_first_phrase_found_is_returned_and_none_when_absent() -> None:
    assert PhraseSet(["schifo", "vergogna"]).find("Che vergogna!") == "vergogna"
    assert PhraseSet(["schifo", "vergogna"]).find("tutto bene") is None
