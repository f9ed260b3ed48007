"""Control flow of the LLM tracers with a scripted model (parsing, search order, cost, errors)."""

import asyncio
import itertools
import math
import re

import pytest

from agentracer.errors import ContextLengthError
from agentracer.formats import Benchmark, load_one
from agentracer.llm import ChatModel, ChatRequest, ChatResponse
from agentracer.tracers import prompts
from agentracer.tracers.agentracer import AgenTracerTracer
from agentracer.tracers.all_at_once import AllAtOnceTracer
from agentracer.tracers.binary_search import BinarySearchTracer
from agentracer.tracers.llm_tracer import LLMTracerOptions
from agentracer.tracers.step_by_step import StepByStepTracer
from agentracer.trajectory import Trajectory
from tests.conftest import EXAMPLE
from tests.llm.loopback import shared_length

TRAJECTORY = load_one(EXAMPLE)


class ScriptedBackend:
    """Answers with `answer(request)`; may refuse long prompts like a real server."""

    name = "fake/scripted"
    supports_grammar = True

    def __init__(
        self, answer, context_window: int | None = None, max_prompt_chars: int | None = None
    ):
        self.answer = answer
        self.context_window = context_window
        self.max_prompt_chars = max_prompt_chars
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        size = sum(len(m["content"]) for m in request.messages)
        if self.max_prompt_chars is not None and size > self.max_prompt_chars:
            raise ContextLengthError(
                "too long", prompt_tokens=size // 3, context_window=self.max_prompt_chars // 3
            )
        return ChatResponse(
            text=self.answer(request), prompt_tokens=size // 4, completion_tokens=5, seconds=0.01
        )

    async def aclose(self) -> None:
        pass


def _run(tracer, trajectory: Trajectory = TRAJECTORY, **kwargs):
    return asyncio.run(tracer.attribute(trajectory, **kwargs))


def _prompt(request: ChatRequest) -> str:
    return request.messages[-1]["content"]


def test_all_at_once_parses_and_costs_one_call() -> None:
    backend = ScriptedBackend(
        lambda r: "Agent Name: Time_Expert\nStep Number: 1\nReason for Mistake: 3h35 not 3h25"
    )
    verdict = _run(AllAtOnceTracer(ChatModel(backend, constrain=True)), with_ground_truth=True)
    assert (verdict.agent, verdict.step, verdict.parse_status) == ("Time_Expert", 1, "parsed")
    assert verdict.reason == "3h35 not 3h25" and verdict.tracer == "all-at-once"
    assert verdict.usage.calls == 1 and verdict.usage.completion_tokens == 5
    assert "190" in _prompt(backend.requests[0])
    assert backend.requests[0].grammar and "Time_Expert" in backend.requests[0].grammar


def test_garbage_output_is_an_unparsed_verdict_not_an_error() -> None:
    verdict = _run(
        AllAtOnceTracer(ChatModel(ScriptedBackend(lambda r: "I cannot help with that.")))
    )
    assert verdict.agent is None and verdict.step is None and verdict.parse_status == "unparsed"
    assert verdict.raw_output == "I cannot help with that."


def test_out_of_range_step_is_partial() -> None:
    verdict = _run(
        AllAtOnceTracer(
            ChatModel(ScriptedBackend(lambda r: "Agent Name: Planner\nStep Number: 99"))
        )
    )
    assert (verdict.agent, verdict.step, verdict.parse_status) == ("Planner", None, "partial")
    assert "answered step 99, outside the log (0..5)" in verdict.notes


def test_step_by_step_stops_at_the_first_yes_and_skips_tools() -> None:
    def answer(request: ChatRequest) -> str:
        return (
            "1. Yes\n2. Reason: 3h25 is wrong"
            if "step 1 by Time_Expert" in _prompt(request)
            else "1. No\n2. Reason: fine"
        )

    backend = ScriptedBackend(answer)
    verdict = _run(StepByStepTracer(ChatModel(backend)))
    assert (verdict.agent, verdict.step, verdict.reason) == ("Time_Expert", 1, "3h25 is wrong")
    assert verdict.usage.calls == 2  # steps 0 and 1, then it stops


def test_step_by_step_with_no_yes_gives_no_verdict() -> None:
    backend = ScriptedBackend(lambda r: "1. No\n2. Reason: fine")
    verdict = _run(StepByStepTracer(ChatModel(backend)))
    assert verdict.agent is None and verdict.parse_status == "parsed"
    assert "no step was judged decisive" in verdict.notes
    assert len(backend.requests) == 5  # every agent step, not the terminal's step 3


def test_binary_search_halves_down_to_the_chosen_step(who_and_when: Benchmark) -> None:
    trajectory = next(t for _, t in who_and_when.trajectories() if t.id == "hand-crafted/1")
    target = 12  # gold step of this record

    def answer(request: ChatRequest) -> str:
        text = _prompt(request)
        first_end = int(text.split("first half (steps ")[1].split(" to ")[1].split(")")[0])
        return "Half: first\nReason: r" if target <= first_end else "Half: second\nReason: r"

    backend = ScriptedBackend(answer)
    verdict = _run(BinarySearchTracer(ChatModel(backend)), trajectory)
    assert (verdict.agent, verdict.step) == ("WebSurfer", 12)
    agent_steps = len(trajectory.agent_steps())
    assert verdict.usage.calls <= math.ceil(math.log2(agent_steps))


def test_binary_search_without_an_answer_reports_the_remaining_range() -> None:
    verdict = _run(BinarySearchTracer(ChatModel(ScriptedBackend(lambda r: "hmm"))))
    assert verdict.parse_status == "unparsed" and verdict.candidates == [0, 1, 2, 4, 5]


def test_agentracer_reads_think_answer() -> None:
    backend = ScriptedBackend(
        lambda r: "<think>the duration is 3h35</think>\n<answer>Time_Expert | 1</answer>"
    )
    verdict = _run(AgenTracerTracer(ChatModel(backend)))
    assert (verdict.agent, verdict.step, verdict.reason) == (
        "Time_Expert",
        1,
        "the duration is 3h35",
    )
    assert backend.requests[0].max_tokens == 1024


def test_a_log_too_long_for_the_context_is_shortened_keeping_step_numbers(
    who_and_when: Benchmark,
) -> None:
    longest = max(
        (t for _, t in who_and_when.trajectories()),
        key=lambda t: sum(len(s.content) for s in t.steps),
    )
    total = sum(len(s.content) for s in longest.steps)
    backend = ScriptedBackend(
        lambda r: "Agent Name: WebSurfer\nStep Number: 4", max_prompt_chars=total // 4
    )
    verdict = _run(
        AllAtOnceTracer(ChatModel(backend), LLMTracerOptions(step_numbers=True)), longest
    )
    assert longest.steps[4].agent == "WebSurfer"
    assert verdict.step == 4 and verdict.usage.calls == 1
    assert len(backend.requests) >= 2  # refused, shortened, answered
    assert any("log shortened to fit the context window" in n for n in verdict.notes)
    last = _prompt(backend.requests[-1])
    assert all(f"Step {i} - " in last for i in range(len(longest.steps)))  # no step dropped


def test_a_known_window_shortens_before_asking(who_and_when: Benchmark) -> None:
    longest = max(
        (t for _, t in who_and_when.trajectories()),
        key=lambda t: sum(len(s.content) for s in t.steps),
    )
    backend = ScriptedBackend(
        lambda r: "Agent Name: WebSurfer\nStep Number: 3", context_window=4096
    )
    verdict = _run(AllAtOnceTracer(ChatModel(backend)), longest)
    assert len(backend.requests) == 1
    assert sum(len(m["content"]) for m in backend.requests[0].messages) < 4096 * 3
    assert any("log shortened" in n for n in verdict.notes)


def test_a_log_that_never_fits_raises_a_clear_error() -> None:
    backend = ScriptedBackend(lambda r: "x", max_prompt_chars=10)
    with pytest.raises(
        ContextLengthError, match=r"does not fit .* even after shortening it 4 times"
    ):
        _run(AllAtOnceTracer(ChatModel(backend)))


def test_an_unknown_window_caps_what_is_sent() -> None:
    steps = list(TRAJECTORY.steps)
    steps[0] = steps[0].model_copy(update={"content": "x" * 20_000_000})  # a 20 MB step
    huge = TRAJECTORY.model_copy(update={"steps": steps})
    backend = ScriptedBackend(lambda r: "Agent Name: Orchestrator\nStep Number: 0")
    verdict = _run(AllAtOnceTracer(ChatModel(backend)), huge)
    assert len(backend.requests) == 1
    sent = sum(len(m["content"]) for m in backend.requests[0].messages)
    assert sent <= 512_000
    assert any("512000-character cap" in note for note in verdict.notes)
    smaller = AllAtOnceTracer(ChatModel(backend), LLMTracerOptions(max_prompt_chars=50_000))
    _run(smaller, huge)
    assert sum(len(m["content"]) for m in backend.requests[-1].messages) <= 50_000


def _first_half_or_no(request: ChatRequest) -> str:
    return "Half: first\nReason: r" if "Half" in _prompt(request) else "1. No\n2. Reason: r"


def _before_question(text: str) -> str:
    """A prompt's text before the question of its call (the part a cache may hold)."""
    return text.rsplit(prompts.SEPARATOR, 2)[0]


@pytest.mark.parametrize("window", [None, 4096], ids=["whole log", "log cut to a window"])
def test_the_calls_of_a_binary_search_share_the_whole_log_byte_for_byte(
    who_and_when: Benchmark, window: int | None
) -> None:
    trajectory = next(t for _, t in who_and_when.trajectories() if t.id == "hand-crafted/1")
    backend = ScriptedBackend(_first_half_or_no, context_window=window)
    verdict = _run(BinarySearchTracer(ChatModel(backend)), trajectory)
    users = [_prompt(r) for r in backend.requests]
    assert len(users) >= 4 and len({r.messages[0]["content"] for r in backend.requests}) == 1
    shared = users[0][: min(shared_length(users[0], u) for u in users)]
    assert all(f"Step {s.index} - {s.speaker}: " in shared for s in trajectory.steps)
    assert not any(re.search(r"^Step \d+ - ", u[len(shared) :], re.M) for u in users)
    assert ("log shortened" in " ".join(verdict.notes)) == (window is not None)


@pytest.mark.parametrize("window", [None, 4096], ids=["whole log", "log cut to a window"])
def test_each_step_by_step_call_extends_the_last_ones_log(
    who_and_when: Benchmark, window: int | None
) -> None:
    """Call k shows the log up to step k; its text before the question is the first bytes of
    call k+1's prompt (so a cache reads only the new step), the log cut the same way in each."""
    trajectory = next(t for _, t in who_and_when.trajectories() if t.id == "hand-crafted/1")
    backend = ScriptedBackend(_first_half_or_no, context_window=window)
    verdict = _run(StepByStepTracer(ChatModel(backend)), trajectory)
    users = [_prompt(r) for r in backend.requests]
    assert len(users) == len(trajectory.agent_steps())
    for earlier, later in itertools.pairwise(users):
        assert later.startswith(_before_question(earlier) + "\n")
    assert all(f"Step {s.index} - {s.speaker}: " in users[-1] for s in trajectory.agent_steps())
    assert ("log shortened" in " ".join(verdict.notes)) == (window is not None)


def test_tracers_on_the_same_run_send_the_same_prefix() -> None:
    contents = [s.content for s in TRAJECTORY.steps]
    prefix = prompts.shared_prefix(TRAJECTORY, contents, with_ground_truth=True)
    for cls in (AllAtOnceTracer, AgenTracerTracer, BinarySearchTracer):
        backend = ScriptedBackend(lambda r: "no answer")
        options = LLMTracerOptions(step_numbers=True) if cls is AllAtOnceTracer else None
        _run(cls(ChatModel(backend), options), with_ground_truth=True)
        assert all(
            r.messages[0]["content"] == prompts.SYSTEM
            and _prompt(r).startswith(prefix + prompts.SEPARATOR)
            for r in backend.requests
        ), cls.name
    # step-by-step's log so far is the first bytes of that prefix
    backend = ScriptedBackend(lambda r: "1. No\n2. Reason: r")
    _run(StepByStepTracer(ChatModel(backend)), with_ground_truth=True)
    assert len(backend.requests) == len(TRAJECTORY.agent_steps())
    for request in backend.requests:
        assert (prefix + "\n").startswith(_before_question(_prompt(request)) + "\n")
