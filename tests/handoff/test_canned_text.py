"""Placeholders in canned replies: known ones filled, unknown ones and stray braces kept."""

from __future__ import annotations

from handoff.canned_text import fill


def test_known_placeholders_are_filled() -> None:
    values = {"name": "Mario", "agent": "Alice"}
    assert fill("Thanks {name}, I am {agent}.", values) == "Thanks Mario, I am Alice."


def test_unknown_placeholders_and_other_braces_stay_as_written() -> None:
    assert (
        fill("Order {order id} {x} {} {name}", {"name": "Mario"}) == "Order {order id} {x} {} Mario"
    )


def test_an_empty_value_before_punctuation_takes_its_blank_along() -> None:
    values = {"name": "", "agent": "Alice"}
    assert fill("Thanks {name}, I am {agent}.", values) == "Thanks, I am Alice."
    assert fill("Ciao {name}!", values) == "Ciao!"
    assert fill("Hello {name} and welcome", values) == "Hello  and welcome"
