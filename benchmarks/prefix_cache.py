"""What the shared prompt prefix saves: multi-call tracers against one all-at-once call.

On the embedded model (SmolLM2-135M Q4_1, in process; llama.cpp keeps the slot's last prompt),
for each Who&When run given, with the correct answer in the prompt, no response cache, a fresh
model per tracer (so no tracer profits from another's prompt). Every figure is llama.cpp's own
(`timings` of each in-process call): prompt tokens, those read from its cache, and model time =
milliseconds reading the prompt plus writing the answer, so any checkout can be measured:

- `all-at-once` (default, unnumbered log): one call, its model time = the unit;
- `binary-search`: its model time against that unit (target <= 1.3x);
- `step-by-step`: every agent step judged in turn (a "Yes" is recorded, then passed on as "No"
  so the walk goes on and each step's cost is measured; the verdict printed is the published
  method's: the first step judged "Yes"), model time per judged step against the unit
  (target <= 1.5x), for the full walk and for the walk up to the verdict;
- the share of prompt tokens the server says it read from its cache on each tracer's second
  and later calls (target >= 80%); `--http` also asks through llama.cpp's own HTTP server
  (xllamacpp's loopback endpoint) with the OpenAI-compatible backend, which reads the share
  from the server's `usage.prompt_tokens_details.cached_tokens`;
- `--shared`: all-at-once (`step_numbers=true`), then binary-search on the same model: the
  share of binary-search's first call served from the cache the other tracer left.

Runs against any checkout (`PYTHONPATH=OLD/src python benchmarks/prefix_cache.py` measures the
code before the change; with `--http`, the share prints as "-" where the code does not record
cached tokens).

    AGENTRACER_THREADS=1 python benchmarks/prefix_cache.py --run algorithm-generated/1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentracer.formats import load_benchmark
from agentracer.llm import ChatModel, ConnectionSettings, get_model
from agentracer.llm.embedded import EmbeddedBackend
from agentracer.llm.models import SMOLLM2_135M, ensure_model
from agentracer.tracers.all_at_once import AllAtOnceTracer
from agentracer.tracers.binary_search import BinarySearchTracer
from agentracer.tracers.llm_tracer import LLMTracerOptions
from agentracer.tracers.step_by_step import StepByStepTracer
from agentracer.trajectory import Trajectory

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass
class Call:
    """One call, in llama.cpp's own figures (`timings`), so any checkout can be measured:
    prompt tokens, those read from the cache, milliseconds reading the rest and writing."""

    prompt_tokens: int
    cached: int
    prompt_ms: float
    predicted_ms: float
    text: str

    @property
    def seconds(self) -> float:
        return (self.prompt_ms + self.predicted_ms) / 1000


class _Timed:
    """The xllamacpp server, keeping llama.cpp's figures of every in-process call."""

    def __init__(self, server: Any, calls: list[Call]) -> None:
        self._server, self._calls = server, calls

    def handle_chat_completions(self, body: dict[str, Any]) -> Any:
        result = self._server.handle_chat_completions(body)
        if isinstance(result, dict) and "timings" in result:
            timings, text = result["timings"], result["choices"][0]["message"].get("content")
            self._calls.append(
                Call(
                    timings["prompt_n"] + timings.get("cache_n", 0), timings.get("cache_n", 0),
                    timings["prompt_ms"], timings["predicted_ms"], text or "",
                )
            )  # fmt: skip
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


class TimedBackend(EmbeddedBackend):
    def __init__(self, threads: int | None) -> None:
        super().__init__(ensure_model(SMOLLM2_135M.name), name=SMOLLM2_135M.name, threads=threads)
        self.calls: list[Call] = []

    def server(self) -> Any:
        return _Timed(super().server(), self.calls)


class Walk(ChatModel):
    """Step-by-step's every step judged: a "Yes" is recorded by llama.cpp's figures and passed
    on as "No", so the walk goes on."""

    async def chat(self, request: Any) -> Any:
        response = await ChatModel.chat(self, request)
        if response.text.lstrip().lower().startswith("1. yes"):
            response = response.model_copy(update={"text": "1. No\n2. Reason: (walk goes on)"})
        return response


def _attribute(tracer: Any, trajectory: Trajectory) -> Any:
    async def run() -> Any:
        try:
            return await tracer.attribute(trajectory, with_ground_truth=True)
        finally:
            await tracer.aclose()

    return asyncio.run(run())


def _share(calls: list[Call]) -> str:
    prompt = sum(c.prompt_tokens for c in calls)
    return f"{100 * sum(c.cached for c in calls) / prompt:.0f}%" if prompt else "-"


def _seconds(calls: list[Call]) -> float:
    return sum(c.seconds for c in calls)


def _read(calls: list[Call]) -> int:
    """Prompt tokens the model had to read (not served from its cache)."""
    return sum(c.prompt_tokens - c.cached for c in calls)


def _tokens(calls: list[Call]) -> str:
    prompt, cached = sum(c.prompt_tokens for c in calls), sum(c.cached for c in calls)
    return f"{prompt} prompt tokens, {prompt - cached} read ({cached} from the cache)"


def _mark(verdict: Any, trajectory: Trajectory) -> str:
    label = trajectory.label
    if verdict.agent is None or label is None:
        return f"no verdict ({verdict.parse_status})"
    agent = "right" if verdict.agent == label.agent else "wrong"
    step = "right" if verdict.step == label.step else "wrong"
    return f"agent {verdict.agent} ({agent}), step {verdict.step} ({step})"


def measure(trajectory: Trajectory, threads: int | None, http: bool, shared: bool) -> None:
    agent_steps = trajectory.agent_steps()
    print(
        f"\n{trajectory.id}: {len(trajectory.agents)} agents, {len(trajectory.steps)} steps "
        f"({len(agent_steps)} agent steps)"
    )
    backend = TimedBackend(threads)
    verdict = _attribute(AllAtOnceTracer(ChatModel(backend, constrain=True)), trajectory)
    unit, read = _seconds(backend.calls), _read(backend.calls)
    print(f"  all-at-once    1 call   {_tokens(backend.calls)}; {unit:6.1f} s model; "
          f"{_mark(verdict, trajectory)}")  # fmt: skip

    backend = TimedBackend(threads)
    verdict = _attribute(BinarySearchTracer(ChatModel(backend, constrain=True)), trajectory)
    bs = backend.calls
    print(f"  binary-search  {len(bs)} calls  {_tokens(bs)}; {_seconds(bs):6.1f} s model = "
          f"{_seconds(bs) / unit:.2f}x all-at-once ({_read(bs) / read:.2f}x its tokens read); later "
          f"calls from the cache: {_share(bs[1:])}; "
          f"{_mark(verdict, trajectory)}")  # fmt: skip

    backend = TimedBackend(threads)
    _attribute(StepByStepTracer(Walk(backend, constrain=True)), trajectory)
    walk = backend.calls
    yes = next(
        (i for i, c in enumerate(walk) if c.text.lstrip().lower().startswith("1. yes")), None
    )
    upto = walk if yes is None else walk[: yes + 1]
    label = trajectory.label
    natural = "no step judged decisive" if yes is None else (
        f"agent {agent_steps[yes].agent} "
        f"({'right' if label and agent_steps[yes].agent == label.agent else 'wrong'}), "
        f"step {agent_steps[yes].index} "
        f"({'right' if label and agent_steps[yes].index == label.step else 'wrong'})"
    )  # fmt: skip
    print(f"  step-by-step   {len(walk)} calls  {_tokens(walk)}; {_seconds(walk):6.1f} s model = "
          f"{_seconds(walk) / len(walk) / unit:.2f}x all-at-once per judged step "
          f"({_seconds(walk) / unit:.2f}x for the whole walk, {_read(walk) / read:.2f}x the tokens "
          f"read); up to its verdict "
          f"({len(upto)} calls) {_seconds(upto) / len(upto) / unit:.2f}x per step; later calls "
          f"from the cache: {_share(walk[1:])}; {natural}")  # fmt: skip

    if http:  # the OpenAI-compatible backend reads the cache hits from the server's answer
        server = TimedBackend(threads)
        connection = ConnectionSettings(base_url=server.base_url, use_cache=False, constrain=True)
        model = get_model(f"openai/{SMOLLM2_135M.name}", connection)
        responses: list[Any] = []
        chat = model.chat

        async def recorded(request: Any) -> Any:
            responses.append(await chat(request))
            return responses[-1]

        model.chat = recorded  # type: ignore[method-assign]
        _attribute(BinarySearchTracer(model), trajectory)
        said = [getattr(r, "cached_prompt_tokens", None) for r in responses]
        later = sum(r.prompt_tokens for r in responses[1:])
        share = "-" if None in said or not later else f"{100 * sum(said[1:]) / later:.0f}%"
        print(f"  binary-search over llama.cpp's HTTP server, as the OpenAI-compatible backend "
              f"recorded it: {len(responses)} calls, later calls from the cache: {share}")  # fmt: skip
    if shared:
        backend = TimedBackend(threads)
        numbered = LLMTracerOptions(step_numbers=True, max_tokens=512)
        tracer = AllAtOnceTracer(ChatModel(backend, constrain=True), numbered)
        asyncio.run(tracer.attribute(trajectory, with_ground_truth=True))
        first = backend.calls[0]
        _attribute(BinarySearchTracer(ChatModel(backend, constrain=True)), trajectory)
        second = backend.calls[1]
        print(f"  binary-search after all-at-once (step_numbers=true) on the same model: its first "
              f"call {_share([second])} from the cache, {second.seconds:.1f} s "
              f"(all-at-once's call: {first.seconds:.1f} s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--run", action="append", help="Who&When record id; repeatable")
    parser.add_argument("--http", action="store_true", help="also through llama.cpp's server")
    parser.add_argument("--shared", action="store_true", help="also across two tracers")
    args = parser.parse_args()
    runs = args.run or ["algorithm-generated/1"]
    threads_set = os.environ.get("AGENTRACER_THREADS")
    threads = int(threads_set) if threads_set else None
    bench = load_benchmark("who-and-when", data=args.data)
    by_id = {t.id: t for _, t in bench.trajectories()}
    print(f"embedded {SMOLLM2_135M.name} (Q4_1, xllamacpp in process, grammar-constrained, "
          f"temperature 0), {threads or os.cpu_count()} thread(s); {platform.machine()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    started = time.perf_counter()
    for run in runs:
        measure(by_id[run], threads, args.http, args.shared)
    print(f"\n{time.perf_counter() - started:.0f} s wall; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
