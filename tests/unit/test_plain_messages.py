"""Validation messages reach people as sentences, not as the validator's words."""

from __future__ import annotations

import pytest

from components.schema_form import plain_message


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("String should have at least 10 characters", "Use at least 10 characters"),
        ("at least 10 characters", "Use at least 10 characters"),
        ("must be at least 3 character(s)", "Use at least 3 characters"),
        ("must be number, not null", "Enter a number"),
        ("must be integer, not string", "Enter a whole number"),
        ("Input should be a valid number, unable to parse string as a number", "Enter a number"),
    ],
)
def test_a_raw_validation_message_becomes_a_sentence(raw: str, said: str) -> None:
    assert plain_message(raw) == said


def test_a_message_already_in_words_is_kept() -> None:
    assert plain_message("is required") == "is required"
    assert plain_message("not an email address (name@example.com)") == "not an email address (name@example.com)"
