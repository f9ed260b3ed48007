"""The LLM auditor: control flow with a scripted model, and one run on the real embedded model."""

from __future__ import annotations

import asyncio

import pytest

from agentracer.forecast.llm import LLMForecaster, decision_grammar, parse_decision
from agentracer.forecast.online import forecast, prefix
from agentracer.llm import ChatModel, ChatRequest
from agentracer.llm.embedded import EmbeddedBackend
from agentracer.tracers.llm_tracer import LLMTracerOptions
from tests.forecast.test_online import run
from tests.tracers.test_llm_tracers import ScriptedBackend


def auditor(answer) -> tuple[LLMForecaster, ScriptedBackend]:  # type: ignore[no-untyped-def]
    backend = ScriptedBackend(answer)
    model = ChatModel(backend, constrain=True)
    return LLMForecaster(model, LLMTracerOptions(max_tokens=96)), backend


def test_parse_decision_reads_alarms_and_refuses_steps_not_read() -> None:
    seen = prefix(run(10), 4)
    assert parse_decision("Decision: alarm at step 3\nReason: x", seen) == (3, True)
    assert parse_decision("Decision: continue\nReason: fine", seen) == (None, True)
    assert parse_decision("**Alarm** at step: 2", seen) == (2, True)
    assert parse_decision("Decision: alarm at step 7", seen) == (None, True)  # not read yet
    assert parse_decision("Decision: alarm at step 0", seen) == (None, True)  # the user's step
    assert parse_decision("no idea", seen) == (None, False)


def test_the_auditor_reads_prefixes_until_it_alarms() -> None:
    def answer(request: ChatRequest) -> str:
        last = request.messages[-1]["content"]
        return "Decision: alarm at step 2\nReason: bad" if "Step 3 -" in last else (
            "Decision: continue\nReason: fine")  # fmt: skip

    forecaster, backend = auditor(answer)
    result = asyncio.run(forecast(run(8), forecaster))
    assert (result.alarm, result.read) == (2, 4)  # flagged step 2 once step 3 made it plain
    assert len(backend.requests) == 3  # steps 1, 2, 3 (step 0 is the user's)
    assert result.usage.calls == 3
    prompt = backend.requests[0].messages[-1]["content"]
    assert "still running" in prompt and "Step 2 -" not in prompt  # only steps 0..1 shown
    assert "alarm at step " in (backend.requests[0].grammar or "")


def test_unreadable_answers_are_counted_as_continue() -> None:
    forecaster, _ = auditor(lambda request: "I am not sure.")
    result = asyncio.run(forecast(run(5), forecaster))
    assert result.alarm is None and forecaster.unreadable == 4


def test_grammar_names_only_agent_steps_read_so_far() -> None:
    grammar = decision_grammar(prefix(run(10), 3))
    assert 'step ::= "1" | "2" | "3"' in grammar


@pytest.mark.slow
def test_the_auditor_on_the_embedded_model(embedded: EmbeddedBackend) -> None:
    forecaster = LLMForecaster(ChatModel(embedded, constrain=True), LLMTracerOptions(max_tokens=64))
    trajectory = run(4)
    result = asyncio.run(forecast(trajectory, forecaster))
    assert result.usage.calls >= 1 and forecaster.unreadable == 0  # the grammar holds
    assert result.alarm is None or 1 <= result.alarm < result.read
