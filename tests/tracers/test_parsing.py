import pytest

from agentracer.formats import load_one
from agentracer.tracers.parsing import (
    match_agent,
    parse_choice,
    parse_fields,
    parse_think_answer,
    strict_think_answer,
)
from tests.conftest import EXAMPLE

TRAJECTORY = load_one(EXAMPLE)  # agents Planner, Time_Expert, Verification_Expert; steps 0..5


@pytest.mark.parametrize(
    "text",
    [
        "Agent Name: Time_Expert\nStep Number: 1\nReason for Mistake: wrong duration",
        "**Agent Name:** Time_Expert\n**Step Number:** 1\n**Reason for Mistake:** wrong duration",
        "Agent Name: `Time Expert`\nStep Number: Step 1\nReason for Mistake: wrong duration",
        "agent name: time-expert\nstep number: 1\nreason: wrong duration",
        "Agent Name: the Time_Expert agent\nStep: 1\nReason for Mistake: wrong duration",
        '1. Agent Name: "Time_Expert"\n2. Step Number: 1\n3. Reason for Mistake: wrong duration',
    ],
)
def test_fields_are_read_through_presentation_noise(text: str) -> None:
    parsed = parse_fields(text, TRAJECTORY)
    assert (parsed.agent, parsed.step, parsed.status) == ("Time_Expert", 1, "parsed")
    assert parsed.reason.startswith("wrong duration")


def test_step_number_label_wins_over_steps_mentioned_earlier() -> None:
    text = "Agent Name: Planner (see step 5)\nStep Number: 0\nReason for Mistake: bad plan"
    assert parse_fields(text, TRAJECTORY).step == 0


def test_unknown_agent_and_out_of_range_step_are_not_guessed() -> None:
    parsed = parse_fields("Agent Name: Orchestrator\nStep Number: 42\nReason: x", TRAJECTORY)
    assert parsed.agent is None and parsed.step is None and parsed.status == "unparsed"
    assert any("not an agent of this run" in n for n in parsed.notes)
    assert any("answered step 42, outside the log (0..5)" in n for n in parsed.notes)


def test_half_an_answer_is_partial() -> None:
    parsed = parse_fields("Agent Name: Planner\nI am not sure about the step.", TRAJECTORY)
    assert (parsed.agent, parsed.step, parsed.status) == ("Planner", None, "partial")


def test_garbage_is_unparsed() -> None:
    assert parse_fields("lorem ipsum dolor sit amet", TRAJECTORY).status == "unparsed"


def test_match_agent_prefers_the_longest_contained_name() -> None:
    assert match_agent("Verification_Expert", TRAJECTORY) == "Verification_Expert"
    assert match_agent("I blame verification expert", TRAJECTORY) == "Verification_Expert"
    assert match_agent("", TRAJECTORY) is None


def test_strict_think_answer_format() -> None:
    assert strict_think_answer("<think>why</think><answer>Planner | 0</answer>") == (
        "why",
        "Planner | 0",
    )
    assert strict_think_answer("  <think>why</think>\n<answer>Planner | 0</answer>\n") is not None
    assert strict_think_answer("<think>why</think><answer>Planner | 0</answer> extra") is None
    assert strict_think_answer("<answer>Planner | 0</answer>") is None
    assert strict_think_answer("<think> </think><answer>Planner | 0</answer>") is None


def test_think_answer_parsing() -> None:
    parsed = parse_think_answer(
        "<think>duration is wrong</think>\n<answer>Time_Expert | 1</answer>", TRAJECTORY
    )
    assert (parsed.agent, parsed.step, parsed.reason, parsed.notes) == (
        "Time_Expert",
        1,
        "duration is wrong",
        [],
    )
    loose = parse_think_answer("Sure! <answer>time expert | step 1</answer>", TRAJECTORY)
    assert (loose.agent, loose.step) == ("Time_Expert", 1)
    assert "not in the <think>" in loose.notes[0]
    assert parse_think_answer("<answer>Time_Expert</answer>", TRAJECTORY).status == "unparsed"


def test_parse_choice_takes_the_first_named_choice() -> None:
    halves = {"first": "first", "upper": "first", "second": "second", "lower": "second"}
    assert parse_choice("Half: Second\nReason: the first half is fine", halves) == "second"
    assert parse_choice("The upper half.", halves) == "first"
    assert parse_choice("no idea", halves) is None
    assert parse_choice("1. Yes\n2. Reason: ...", {"yes": "yes", "no": "no"}) == "yes"


@pytest.mark.parametrize("parse", [parse_fields, parse_think_answer])
def test_a_step_number_of_thousands_of_digits_is_out_of_the_log_not_a_crash(parse) -> None:  # type: ignore[no-untyped-def]
    digits = "7" * 5000  # more than int() reads (4,300 digits)
    text = (
        f"Agent Name: Planner\nStep Number: {digits}\nReason: x"
        if parse is parse_fields
        else f"<think>t</think><answer>Planner | {digits}</answer>"
    )
    parsed = parse(text, TRAJECTORY)
    assert parsed.agent == "Planner" and parsed.step is None and parsed.status == "partial"
    assert any(
        "answered step 777777777777… (5000 digits), outside the log" in n for n in parsed.notes
    )
    assert parse_fields("Step Number: 0000000000000003", TRAJECTORY).step == 3  # zeros are fine
