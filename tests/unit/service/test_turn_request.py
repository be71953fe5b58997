"""What a run stores of its sampling parameters."""

from __future__ import annotations

from graphchat.llm.base import SamplingParams
from graphchat.service.turn_request import params_json


def test_a_run_stores_the_parameters_that_are_set_zero_included() -> None:
    params = SamplingParams(temperature=0, top_p=None, seed=7, stop=("END", "STOP"))

    assert params_json(params) == {"temperature": 0, "seed": 7, "stop": ["END", "STOP"]}


def test_a_run_with_no_parameters_stores_an_empty_object() -> None:
    assert params_json(SamplingParams()) == {}


def test_every_parameter_is_stored_when_all_are_set() -> None:
    params = SamplingParams(
        temperature=0.5, top_p=0.9, max_tokens=64, seed=1, stop=("x",), num_ctx=2048
    )

    assert params_json(params) == {
        "temperature": 0.5,
        "top_p": 0.9,
        "max_tokens": 64,
        "seed": 1,
        "stop": ["x"],
        "num_ctx": 2048,
    }
