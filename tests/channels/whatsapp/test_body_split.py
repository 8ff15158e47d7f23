"""Cutting long replies at Twilio's body limit, at the best boundary available."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.whatsapp.body_split import MAX_BODY, split_body


def test_a_text_that_fits_is_untouched() -> None:
    for text in ("", "  ciao  ", "x" * MAX_BODY):
        assert split_body(text) == [text]


def test_paragraphs_are_kept_whole_and_packed() -> None:
    paragraphs = ["a" * 700, "b" * 700, "c" * 700, "d" * 700]
    parts = split_body("\n\n".join(paragraphs))
    assert parts == ["a" * 700 + "\n\n" + "b" * 700, "c" * 700 + "\n\n" + "d" * 700]


def test_three_paragraphs_of_a_thousand_are_three_parts() -> None:
    paragraphs = ["a" * 1000, "b" * 1000, "c" * 1000]
    assert split_body("\n\n".join(paragraphs)) == paragraphs


def test_a_blank_line_with_spaces_still_separates_paragraphs() -> None:
    assert split_body("a" * 1000 + "\n  \n" + "b" * 1000) == ["a" * 1000, "b" * 1000]


def test_a_paragraph_exactly_at_the_limit() -> None:
    assert split_body("a" * 1600 + "\n\n" + "b") == ["a" * 1600, "b"]


def test_lines_before_sentences() -> None:
    line = ("Una frase. " * 60).strip()  # 659 characters, many sentence ends
    text = "\n".join([line, line, line])
    assert split_body(text) == [line + "\n" + line, line]


def test_sentences_before_words_and_closing_quotes_stay() -> None:
    sentence = 'Ha detto "basta." '
    text = (sentence * 200).strip()
    parts = split_body(text)
    assert all(part.endswith('"basta."') for part in parts)
    assert all(len(part) <= MAX_BODY for part in parts)


def test_words_are_never_cut_when_they_fit() -> None:
    text = " ".join(["parola"] * 700)
    parts = split_body(text)
    assert all(re.fullmatch(r"parola( parola)*", part) for part in parts)


def test_a_word_longer_than_the_limit_is_cut_at_the_limit() -> None:
    parts = split_body("x" * 4000)
    assert [len(p) for p in parts] == [1600, 1600, 800]


def test_a_small_limit() -> None:
    assert split_body("uno due tre quattro", limit=8) == ["uno due", "tre", "quattro"]
    with pytest.raises(ValueError, match="positive"):
        split_body("x", limit=0)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(
        st.sampled_from(list('ab .!\n\t\u2019"')) | st.characters(codec="utf-8"), max_size=800
    ),
    limit=st.integers(1, 120),
)
def test_parts_fit_keep_the_order_and_lose_only_whitespace(text: str, limit: int) -> None:
    parts = split_body(text, limit)
    assert all(len(part) <= limit for part in parts)
    if len(text) > limit:  # cut: no part is empty or starts or ends with whitespace
        assert all(part and part == part.strip() for part in parts)
    squeeze = re.compile(r"\s+")
    assert squeeze.sub("", "".join(parts)) == squeeze.sub("", text)
