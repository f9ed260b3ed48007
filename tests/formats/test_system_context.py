"""Issue 20 item 1: a `system` message is the run's context, never a step, in every reader that
turns a [system, user, assistant, ...] chat list into steps; `show` prints it as context."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.errors import TraceFormatError
from agentracer.formats import load_benchmark, load_file, parse_record, to_record
from agentracer.tracers import create_tracer
from agentracer.trajectory import StepKind

POLICY = "# Airline agent policy\nNever refund a basic economy ticket."
CHAT = [
    {"role": "system", "content": POLICY},
    {"role": "user", "content": "Refund my ticket, please."},
    {"role": "assistant", "content": "Done: refunded."},
    {"role": "user", "content": "Thanks."},
]


def _write(tmp_path: Path, document: object, name: str = "run.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "document",
    [CHAT, {"messages": CHAT}, {"chat_history": CHAT}],
    ids=["list", "messages", "chat_history"],
)
def test_a_chat_lists_system_message_is_context(tmp_path: Path, document: object) -> None:
    (run,) = load_file(_write(tmp_path, document))
    assert run.context == POLICY
    assert [(s.agent, s.kind) for s in run.steps] == [
        ("user", StepKind.USER),
        ("assistant", StepKind.AGENT),
        ("user", StepKind.USER),
    ]
    assert run.question == "Refund my ticket, please."
    assert any("context" in note for note in run.notes)


@pytest.mark.parametrize("rule", ["first-agent-step", "most-frequent-agent", "first-hand-off"])
def test_no_rule_blames_the_policy(tmp_path: Path, rule: str) -> None:
    (run,) = load_file(_write(tmp_path, CHAT))
    verdict = asyncio.run(create_tracer(rule).attribute(run))
    assert verdict.step == 1 and "policy" not in run.steps[verdict.step].content


def test_langchain_system_message_is_context(tmp_path: Path) -> None:
    messages = [
        {"type": "system", "data": {"content": POLICY, "type": "system"}},
        {"type": "human", "data": {"content": "Refund my ticket.", "type": "human"}},
        {"type": "ai", "data": {"content": "Refunded.", "type": "ai", "name": "agent"}},
    ]
    (run,) = load_file(_write(tmp_path, messages))
    assert run.context == POLICY and len(run.steps) == 2


def test_who_and_when_schema_system_entry_is_context_and_the_label_follows() -> None:
    record = {
        "question": "q",
        "history": [
            {"content": POLICY, "role": "system"},
            {"content": "hi", "role": "human"},
            {"content": "plan", "role": "Orchestrator (thought)"},
        ],
        "mistake_agent": "Orchestrator",
        "mistake_step": "2",
        "mistake_reason": "bad plan",
    }
    run = parse_record(record)
    assert run.context == POLICY and [s.agent for s in run.steps] == ["human", "Orchestrator"]
    assert run.label is not None and run.label.step == 1 and not run.flags
    assert to_record(run) == record  # the context goes back as the first entry
    with pytest.raises(TraceFormatError, match="mistake_step 0 is a system entry"):
        parse_record({**record, "mistake_step": "0"})
    with pytest.raises(TraceFormatError, match="mistake_step 3 is outside the history"):
        parse_record({**record, "mistake_step": "3"})


def test_show_prints_the_context_apart_from_the_steps(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["show", str(_write(tmp_path, CHAT))])
    assert result.exit_code == 0, result.output
    assert "context (59 characters, not a step): # Airline agent policy" in result.stdout
    steps = result.stdout.split("agents:")[1]
    assert "Airline agent policy" not in steps


def test_tau_bench_rules_never_blame_the_policy(data_dir: Path) -> None:
    """Before: first-agent-step, most-frequent-agent and first-hand-off blamed the policy text
    (step 0, `assistant`) in 29 of 29 failed tau-bench runs."""
    if not (data_dir / "agentrx" / "data").is_dir():
        pytest.skip("AgentRx data not found")
    bench = load_benchmark("tau-retail", data=data_dir)
    runs = [t for _, t in bench.trajectories() if t.label is not None]
    assert len(runs) == 29
    for rule in ("first-agent-step", "most-frequent-agent", "first-hand-off"):
        tracer = create_tracer(rule)
        for run in runs:
            verdict = asyncio.run(tracer.attribute(run))
            assert verdict.step is not None
            assert run.steps[verdict.step].kind is StepKind.AGENT
            assert "Retail agent policy" not in run.steps[verdict.step].content
