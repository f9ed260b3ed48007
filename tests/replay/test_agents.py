import re

import pytest

from agentracer.replay.agents import identify_agent, parse_patterns


def _body(system: str = "You are the planner.\nPlan well.", **extra):
    return {
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": "hi"}],
        **extra,
    }


def test_the_header_wins() -> None:
    assert identify_agent({"x-agentracer-agent": "Coder"}, _body(user="Other")) == (
        "Coder",
        "header",
    )


def test_system_message_name_then_user_field() -> None:
    body = _body()
    body["messages"][0]["name"] = "Planner"
    assert identify_agent({}, body) == ("Planner", "name")
    assert identify_agent({}, _body(user="Solver")) == ("Solver", "user")


def test_patterns_then_the_system_prompt_first_line() -> None:
    patterns = parse_patterns([r"planner=Planner", r"review\w*=Reviewer"])
    assert identify_agent({}, _body(), patterns) == ("Planner", "pattern")
    assert identify_agent({}, _body("Please review the code"), patterns) == ("Reviewer", "pattern")
    assert identify_agent({}, _body("\n  You are a helpful coder.\nMore")) == (
        "You are a helpful coder.",
        "system-prompt",
    )
    assert identify_agent({}, {"messages": [{"role": "user", "content": "x"}]}) == (
        "unknown",
        "unknown",
    )


def test_long_first_lines_are_shortened() -> None:
    agent, _ = identify_agent({}, _body("x" * 500))
    assert len(agent) == 60


def test_bad_pattern() -> None:
    with pytest.raises(ValueError, match="is not REGEX=AGENT"):
        parse_patterns(["no-equals-sign"])
    assert parse_patterns(["a=b=C"])[0] == (re.compile("a=b"), "C")
