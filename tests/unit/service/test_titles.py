"""What a model answers to the title request, as a title (small models echo the instruction)."""

from __future__ import annotations

import pytest

from graphchat.service.titles import clean_title


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ("Baking sourdough at home", "Baking sourdough at home"),
        ('"Paris trip plans."\nMore text', "Paris trip plans"),
        ("Title: Tomato ripening", "Tomato ripening"),
        ("The title: The title: Tomato ripening", "Tomato ripening"),
        ("**Short title:** Weekend hike", "Weekend hike"),
        ('The title is "Keeping a starter alive"', "Keeping a starter alive"),
        ("Title Fight: a boxing history", "Title Fight: a boxing history"),
    ],
)
def test_a_title_is_peeled_from_the_answer(answer: str, title: str) -> None:
    assert clean_title(answer) == title


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "\n  \n",
        "The title: " * 12,  # an echo loop: nothing left once the labels are peeled
        " ".join(["word"] * 13),  # a sentence, not a title
    ],
)
def test_no_title_when_nothing_usable_is_left(answer: str) -> None:
    assert clean_title(answer) is None
