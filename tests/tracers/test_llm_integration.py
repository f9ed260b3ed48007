"""Every LLM tracer against a real model: the embedded SmolLM2 in-process, and the same model
behind a real OpenAI-compatible HTTP server on loopback."""

import asyncio
from pathlib import Path

import pytest

from agentracer.formats import Benchmark, load_one
from agentracer.llm import ChatModel, ConnectionSettings, get_model
from agentracer.llm.cache import ResponseCache
from agentracer.llm.embedded import EmbeddedBackend
from agentracer.tracers.agentracer import AgenTracerTracer
from agentracer.tracers.all_at_once import AllAtOnceTracer
from agentracer.tracers.binary_search import BinarySearchTracer
from agentracer.tracers.step_by_step import StepByStepTracer
from tests.conftest import EXAMPLE

TRAJECTORY = load_one(EXAMPLE)
TRACERS = [AllAtOnceTracer, StepByStepTracer, BinarySearchTracer, AgenTracerTracer]


def _check(verdict, tracer_cls) -> None:
    assert verdict.tracer == tracer_cls.name
    assert verdict.usage.calls >= 1 and verdict.usage.prompt_tokens > 0
    assert verdict.raw_output
    # Constrained decoding: the answer is always readable, and names only this run's agents.
    assert verdict.parse_status == "parsed", verdict.raw_output
    if verdict.agent is not None:
        assert verdict.agent in TRAJECTORY.agents and 0 <= verdict.step < len(TRAJECTORY.steps)


@pytest.mark.parametrize("tracer_cls", TRACERS, ids=lambda c: c.name)
def test_tracer_on_the_embedded_model_in_process(embedded: EmbeddedBackend, tracer_cls) -> None:
    tracer = tracer_cls(ChatModel(embedded, constrain=True))
    _check(asyncio.run(tracer.attribute(TRAJECTORY, with_ground_truth=True)), tracer_cls)


@pytest.mark.parametrize("tracer_cls", TRACERS, ids=lambda c: c.name)
def test_tracer_through_a_loopback_openai_server(embedded: EmbeddedBackend, tracer_cls) -> None:
    connection = ConnectionSettings(base_url=embedded.base_url, constrain=True, use_cache=False)
    model = get_model("openai/smollm2-135m", connection)

    async def run():
        try:
            return await tracer_cls(model).attribute(TRAJECTORY, with_ground_truth=False)
        finally:
            await model.aclose()

    verdict = asyncio.run(run())
    _check(verdict, tracer_cls)
    assert model.name == "openai/smollm2-135m"


def test_a_long_log_is_shortened_for_a_small_real_window(
    smollm2_path: Path, who_and_when: Benchmark
) -> None:
    few_steps = [
        t
        for subset, t in who_and_when.trajectories()
        if subset == "algorithm-generated" and len(t.steps) <= 10
    ]
    longest = max(few_steps, key=lambda t: sum(len(s.content) for s in t.steps))
    assert sum(len(s.content) for s in longest.steps) > 3 * 2048 * 3  # far over the window
    small = EmbeddedBackend(smollm2_path, name="smollm2-135m", context_window=2048)
    verdict = asyncio.run(AllAtOnceTracer(ChatModel(small, constrain=True)).attribute(longest))
    assert verdict.parse_status == "parsed"
    assert any("log shortened to fit the context window" in note for note in verdict.notes)


def test_an_interrupted_walk_resumes_from_the_cache(
    embedded: EmbeddedBackend, tmp_path: Path
) -> None:
    class InterruptAfter(ChatModel):
        def __init__(self, calls: int) -> None:
            super().__init__(embedded, cache=ResponseCache(tmp_path), constrain=True)
            self.left = calls

        async def chat(self, request):
            if self.left == 0:
                raise KeyboardInterrupt
            self.left -= 1
            return await super().chat(request)

    # Binary search over the example's 5 agent steps needs at least 2 calls: stop after 1.
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(BinarySearchTracer(InterruptAfter(1)).attribute(TRAJECTORY))
    verdict = asyncio.run(BinarySearchTracer(InterruptAfter(99)).attribute(TRAJECTORY))
    assert verdict.usage.calls >= 2 and verdict.usage.cached_calls == 1
    again = asyncio.run(BinarySearchTracer(InterruptAfter(99)).attribute(TRAJECTORY))
    assert again.usage.cached_calls == again.usage.calls  # a re-run is free
    assert (again.agent, again.step) == (verdict.agent, verdict.step)


@pytest.mark.parametrize("k", [1, 3])
def test_hybrid_on_the_embedded_model_picks_from_the_shortlist(
    embedded: EmbeddedBackend, k: int
) -> None:
    from agentracer.tracers.fast.tracer import DEFAULT_MODEL, FastTracer, cached_model
    from agentracer.tracers.hybrid import HybridOptions, HybridTracer
    from agentracer.tracers.structure import is_consistent

    fast = FastTracer(cached_model(str(DEFAULT_MODEL)))
    shortlist = sorted(i for i, _ in fast.ranked(TRAJECTORY)[:k])
    tracer = HybridTracer(ChatModel(embedded, constrain=True), fast, HybridOptions(k=k))
    verdict = asyncio.run(tracer.attribute(TRAJECTORY, with_ground_truth=True))
    assert verdict.parse_status == "parsed", verdict.raw_output
    assert verdict.step in shortlist and is_consistent(verdict, TRAJECTORY)
    assert verdict.usage.calls == 1 and verdict.confidence is not None


class _Recording(ChatModel):
    """Keeps every response, to read each call's prompt-cache hits."""

    def __init__(self, backend) -> None:
        super().__init__(backend, constrain=True)
        self.responses: list = []

    async def chat(self, request):
        response = await super().chat(request)
        self.responses.append(response)
        return response


@pytest.mark.parametrize("through", ["in process", "loopback server"])
def test_later_calls_of_a_verdict_read_the_log_from_the_prompt_cache(
    embedded: EmbeddedBackend, through: str
) -> None:
    """llama.cpp keeps the slot's last prompt: with the log as the shared prefix, the second
    and later calls of a binary search read only their question (measured: > 90% cached)."""
    if through == "in process":
        model = _Recording(embedded)
    else:
        connection = ConnectionSettings(base_url=embedded.base_url, use_cache=False)
        model = _Recording(get_model("openai/smollm2-135m", connection).backend)

    async def run():
        try:
            return await BinarySearchTracer(model).attribute(TRAJECTORY, with_ground_truth=True)
        finally:
            if through != "in process":
                await model.aclose()

    verdict = asyncio.run(run())
    later = model.responses[1:]
    assert later and verdict.usage.calls == len(model.responses)
    for response in later:
        assert response.cached_prompt_tokens >= 0.8 * response.prompt_tokens, response
    assert verdict.usage.cached_prompt_tokens == sum(
        r.cached_prompt_tokens for r in model.responses
    )
