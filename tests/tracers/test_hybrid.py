"""The hybrid tracer: the fast tracer's shortlist reaches the model, and its answer is kept."""

import asyncio

import pytest

from agentracer.errors import AgenTracerError
from agentracer.formats import load_one
from agentracer.llm import ChatModel
from agentracer.tracers import TracerSettings, create_tracer
from agentracer.tracers.fast.tracer import DEFAULT_MODEL, FastTracer, cached_model
from agentracer.tracers.hybrid import HybridOptions, HybridTracer
from agentracer.tracers.structure import is_consistent
from tests.conftest import EXAMPLE
from tests.tracers.test_llm_tracers import ScriptedBackend

EX = load_one(EXAMPLE)


def _hybrid(answer: str, **options) -> tuple[HybridTracer, ScriptedBackend]:
    backend = ScriptedBackend(lambda r: answer)
    fast = FastTracer(cached_model(str(DEFAULT_MODEL)))
    return HybridTracer(ChatModel(backend, constrain=True), fast, HybridOptions(**options)), backend


@pytest.mark.parametrize("k", [1, 3, 5])
def test_the_shortlist_is_marked_and_the_grammar_allows_only_it(k: int) -> None:
    fast_order = [i for i, _ in FastTracer(cached_model(str(DEFAULT_MODEL))).ranked(EX)]
    shortlist = sorted(fast_order[:k])
    picked = shortlist[-1]
    agent = EX.steps[picked].agent
    tracer, backend = _hybrid(
        f"Agent Name: {agent}\nStep Number: {picked}\nReason for Mistake: r", k=k
    )
    verdict = asyncio.run(tracer.attribute(EX))
    prompt = backend.requests[0].messages[-1]["content"]
    marked = [i for i in range(len(EX.steps)) if f">> Step {i} - " in prompt]
    assert marked == shortlist
    grammar = backend.requests[0].grammar or ""
    for i in range(len(EX.steps)):
        assert (f'"{i}"' in grammar) == (i in shortlist)
    assert (verdict.agent, verdict.step) == (agent, picked)
    assert is_consistent(verdict, EX) and verdict.confidence is not None
    assert f"fast shortlist (k={k})" in verdict.notes[-1]


def test_only_shortlist_shows_only_the_shortlisted_steps() -> None:
    tracer, backend = _hybrid("Agent Name: Planner\nStep Number: 0", k=2, only_shortlist=True)
    asyncio.run(tracer.attribute(EX))
    prompt = backend.requests[0].messages[-1]["content"]
    assert prompt.count("Step ") - prompt.count("Step Number") >= 2
    assert ">>" not in prompt
    shown = [i for i in range(len(EX.steps)) if f"Step {i} - " in prompt]
    assert len(shown) == 2


def test_an_answer_outside_the_shortlist_is_kept_and_noted() -> None:
    tracer, _ = _hybrid("Agent Name: Planner\nStep Number: 5", k=1)
    verdict = asyncio.run(tracer.attribute(EX))
    if verdict.step == 5:
        assert any("outside the shortlist" in note for note in verdict.notes)
    assert is_consistent(verdict, EX)


def test_bad_hybrid_options_are_one_line_errors() -> None:
    with pytest.raises(AgenTracerError, match="bad option for hybrid: k"):
        create_tracer("hybrid", TracerSettings(model="openai/x", options={"k": 0}))
