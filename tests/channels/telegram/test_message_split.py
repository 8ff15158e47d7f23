"""Long texts split into Telegram-sized parts at sensible places."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.telegram.message_split import MAX_MESSAGE_LENGTH, split_text, telegram_length


def test_a_short_text_is_one_part() -> None:
    assert split_text("  Hello!\n") == ["Hello!"]
    assert split_text("   ") == []


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    first, second = "a" * 3000, "b" * 3000
    assert split_text(f"{first}\n\n{second}") == [first, second]


def test_lines_then_words_when_there_is_no_paragraph_break() -> None:
    lines = "\n".join(["x" * 99] * 60)  # 5999 characters of 100-character lines
    parts = split_text(lines)
    assert [telegram_length(p) <= MAX_MESSAGE_LENGTH for p in parts] == [True, True]
    assert all(line == "x" * 99 for part in parts for line in part.split("\n"))
    words = " ".join(["word"] * 2000)
    parts = split_text(words)
    assert all(p.split(" ") == ["word"] * len(p.split(" ")) for p in parts)
    assert " ".join(parts) == words


def test_an_unbreakable_text_is_cut_at_the_limit() -> None:
    parts = split_text("z" * 10_000)
    assert [len(p) for p in parts] == [4096, 4096, 1808]


def test_astral_characters_count_twice_and_are_never_cut_in_half() -> None:
    parts = split_text("😀" * 3000)
    assert [len(p) for p in parts] == [2048, 952]
    assert all(telegram_length(p) <= MAX_MESSAGE_LENGTH for p in parts)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab😀 \n\t.é"), max_size=12_000))
def test_parts_fit_and_keep_every_visible_character_in_order(text: str) -> None:
    parts = split_text(text, limit=500)
    assert all(0 < telegram_length(p) <= 500 for p in parts)
    assert all(p == p.strip() for p in parts)
    assert "".join("".join(p.split()) for p in parts) == "".join(text.split())
