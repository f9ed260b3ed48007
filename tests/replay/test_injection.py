"""Fault injection: perturb a successful run, keep what makes it fail, label that step."""

import asyncio
import json
import random
from pathlib import Path

import pytest

from agentracer.replay import injection as inj
from agentracer.replay.session import record
from tests.replay.conftest import ARITHMETIC, ArithmeticUpstream, team


@pytest.mark.parametrize(
    ("operator", "text", "expected"),
    [
        (
            inj.negate_comparison,
            "if a < b: return x == y",
            {"if a >= b: return x == y", "if a < b: return x != y"},
        ),
        (
            inj.truncate_code,
            "```python\na = 1\nb = 2\nc = 3\nd = 4\n```",
            {"```python\na = 1\nb = 2\n```"},
        ),
        (inj.swap_entity, "Alice pays Bob.", {"Bob pays Alice."}),
        (
            inj.drop_requirement,
            "Sort the list. You must keep duplicates. Return it.",
            {"Sort the list. Return it."},
        ),
    ],
)
def test_operators(operator, text: str, expected: set[str]) -> None:
    assert operator(text, random.Random(0)) in expected


def test_change_number_changes_exactly_one_number() -> None:
    out = inj.change_number("pay 12 of 40 items", random.Random(3))
    assert out != "pay 12 of 40 items" and out is not None
    assert (
        sum(a != b for a, b in zip(out.split(), ["pay", "12", "of", "40", "items"], strict=True))
        == 1
    )


def test_operators_that_do_not_apply_return_none() -> None:
    rng = random.Random(0)
    assert inj.change_number("no digits", rng) is None
    assert inj.negate_comparison("no comparison", rng) is None
    assert inj.truncate_code("no code", rng) is None
    assert inj.swap_entity("only Alice", rng) is None
    assert inj.drop_requirement("nothing required", rng) is None


@pytest.fixture
def succeeded(tmp_path: Path) -> Path:
    recording = record(team(*ARITHMETIC), ArithmeticUpstream(), tmp_path / "ok")
    assert recording.outcome.status == "success"
    return tmp_path / "ok"


def test_an_injected_fault_that_flips_the_outcome_is_labelled(
    succeeded: Path, tmp_path: Path
) -> None:
    result = asyncio.run(inj.inject_faults(succeeded, ArithmeticUpstream(), tmp_path / "work"))
    [kept] = result.kept()
    # Perturbing the plan's numbers does not matter (the live worker still adds 2 + 3);
    # changing the worker's sum does.
    assert (kept.step, kept.agent, kept.call, kept.operator) == (1, "Worker", 1, "change-number")
    assert "5" not in kept.content and kept.outcomes == ["failure"]
    assert all(not i.kept for i in result.injections if i.step == 0)
    assert kept.replay_dir is not None and Path(kept.replay_dir, "recording.json").is_file()
    assert result.replays == len(result.injections)


def test_sampling_steps_is_seeded(succeeded: Path, tmp_path: Path) -> None:
    first = asyncio.run(
        inj.inject_faults(succeeded, ArithmeticUpstream(), tmp_path / "a", steps=1, seed=5)
    )
    again = asyncio.run(
        inj.inject_faults(succeeded, ArithmeticUpstream(), tmp_path / "b", steps=1, seed=5)
    )
    assert [i.step for i in first.injections] == [i.step for i in again.injections]


def test_corrupt_tool_arguments_changes_one_scalar_argument() -> None:
    calls = [
        {
            "id": "t1",
            "type": "function",
            "function": {"name": "pay", "arguments": '{"amount": 40, "to": "Bob"}'},
        }
    ]
    corrupted = inj.corrupt_tool_arguments(calls, random.Random(0))
    assert corrupted is not None and corrupted[0]["id"] == "t1"
    new = json.loads(corrupted[0]["function"]["arguments"])
    assert new in ({"amount": 41, "to": "Bob"}, {"amount": 40, "to": "B"})
    assert json.loads(calls[0]["function"]["arguments"]) == {"amount": 40, "to": "Bob"}  # untouched
    assert (
        inj.corrupt_tool_arguments(
            [{"function": {"name": "f", "arguments": "not json"}}], random.Random(0)
        )
        is None
    )
