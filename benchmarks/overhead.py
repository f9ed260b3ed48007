"""Framework overhead against a real OpenAI-compatible server on loopback.

The server is xllamacpp serving the embedded SmolLM2-135M on 127.0.0.1 (llama.cpp's own prompt
reuse is off, so no request is faster for having come second).

1. Per verdict: the wall time of `tracer.attribute` against the time spent inside the model
   calls it made (each call timed around the SDK request). The difference is AgenTracer's own
   work: prompt building, context fitting, caching, parsing, bookkeeping.
2. Throughput at concurrency 1/4/16: the same batch of requests through `ChatModel` and
   through raw `openai.AsyncOpenAI` calls, both bounded by a semaphore of that size.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import openai

from agentracer.formats import load_one
from agentracer.llm import ChatRequest, ConnectionSettings, get_model
from agentracer.llm.embedded import EmbeddedBackend
from agentracer.llm.models import SMOLLM2_135M, ensure_model
from agentracer.llm.openai_compat import PLACEHOLDER_KEY
from agentracer.tracers.agentracer import AgenTracerTracer
from agentracer.tracers.all_at_once import AllAtOnceTracer
from agentracer.tracers.binary_search import BinarySearchTracer
from agentracer.tracers.step_by_step import StepByStepTracer
from agentracer.trajectory import Trajectory

TRACERS = [AllAtOnceTracer, StepByStepTracer, BinarySearchTracer, AgenTracerTracer]


def _connection(base_url: str, concurrency: int = 16) -> ConnectionSettings:
    return ConnectionSettings(
        base_url=base_url, use_cache=False, constrain=True, concurrency=concurrency
    )


async def per_verdict(base_url: str, trajectory: Trajectory, repeats: int) -> None:
    print("1. time per verdict vs the model calls it made (seconds, mean of", repeats, "runs)")
    for tracer_cls in TRACERS:
        walls, models, calls = [], [], 0
        for seed in range(repeats):
            model = get_model("openai/smollm2-135m", _connection(base_url))
            tracer = tracer_cls(model, seed=seed)
            started = time.perf_counter()
            verdict = await tracer.attribute(trajectory, with_ground_truth=True)
            walls.append(time.perf_counter() - started)
            models.append(verdict.usage.seconds)
            calls += verdict.usage.calls
            await model.aclose()
        wall, inside = statistics.mean(walls), statistics.mean(models)
        overhead = (wall - inside) / inside
        print(
            f"   {tracer_cls.name:<14} verdict {wall:7.3f}  model calls {inside:7.3f}  "
            f"({calls / repeats:.1f} calls)  overhead {1000 * (wall - inside):6.1f} ms = {100 * overhead:.2f}% of model time"
        )


def _requests(count: int, tag: str) -> list[ChatRequest]:
    # Same length and shape for every run; the tag only keeps the texts distinct.
    return [
        ChatRequest(
            messages=[{"role": "user", "content": f"Request {tag}{i:03d}. Name one colour."}],
            max_tokens=12,
            seed=i,
            grammar='root ::= "The colour is " ("red" | "green" | "blue") "."',
        )
        for i in range(count)
    ]


async def through_framework(base_url: str, requests: list[ChatRequest], concurrency: int) -> float:
    model = get_model("openai/smollm2-135m", _connection(base_url, concurrency))
    started = time.perf_counter()
    await asyncio.gather(*(model.chat(r) for r in requests))
    elapsed = time.perf_counter() - started
    await model.aclose()
    return elapsed


async def through_raw_openai(base_url: str, requests: list[ChatRequest], concurrency: int) -> float:
    client = openai.AsyncOpenAI(base_url=base_url, api_key=PLACEHOLDER_KEY, max_retries=5)
    limit = asyncio.Semaphore(concurrency)

    async def one(request: ChatRequest) -> None:
        async with limit:
            await client.chat.completions.create(
                model="smollm2-135m",
                messages=request.messages,  # type: ignore[arg-type]
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                seed=request.seed,
                extra_body={"grammar": request.grammar},
            )

    started = time.perf_counter()
    await asyncio.gather(*(one(r) for r in requests))
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


async def throughput(base_url: str, count: int) -> None:
    print(f"2. throughput, {count} requests per run (requests per second; higher is better)")
    for concurrency in (1, 4, 16):
        ours = await through_framework(base_url, _requests(count, f"a{concurrency}-"), concurrency)
        raw = await through_raw_openai(base_url, _requests(count, f"b{concurrency}-"), concurrency)
        # Second pass in the other order, so neither side always runs on a warmer server.
        raw2 = await through_raw_openai(base_url, _requests(count, f"c{concurrency}-"), concurrency)
        ours2 = await through_framework(base_url, _requests(count, f"d{concurrency}-"), concurrency)
        ours_rps, raw_rps = 2 * count / (ours + ours2), 2 * count / (raw + raw2)
        print(
            f"   concurrency {concurrency:>2}: agentracer {ours_rps:6.2f}/s   raw openai {raw_rps:6.2f}/s   "
            f"ratio {ours_rps / raw_rps:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="verdicts per tracer")
    parser.add_argument("--requests", type=int, default=32, help="requests per throughput run")
    parser.add_argument("--parallel", type=int, default=4, help="server decoding slots")
    args = parser.parse_args()
    backend = EmbeddedBackend(
        ensure_model(SMOLLM2_135M.name),
        name=SMOLLM2_135M.name,
        parallel=args.parallel,
        cache_prompt=False,
    )
    base_url = backend.base_url
    print(
        f"server: xllamacpp on {base_url}, SmolLM2-135M Q4_1, {args.parallel} slots, {backend.threads} threads, prompt reuse off"
    )
    trajectory = load_one("examples/failed_run.json")
    asyncio.run(per_verdict(base_url, trajectory, args.repeats))
    asyncio.run(throughput(base_url, args.requests))


if __name__ == "__main__":
    main()
