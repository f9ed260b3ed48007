"""The per-endpoint limit and the 429 backoff hold across Ray workers (real actor, real server)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from tests.llm.loopback import Reply, ScriptedServer, completion

LATENCY = 0.2


class Recorder:
    """A loopback responder that tracks concurrent requests and arrival times."""

    def __init__(self, rate_limit_first: bool = False) -> None:
        self.lock = threading.Lock()
        self.active = self.peak = 0
        self.arrivals: list[float] = []
        self.rate_limit_first = rate_limit_first

    def __call__(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            self.arrivals.append(time.monotonic())
            if self.rate_limit_first and len(self.arrivals) == 1:
                return Reply(
                    status=429,
                    body={"error": {"message": "slow down"}},
                    headers={"retry-after": "1"},
                )
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(LATENCY)
        with self.lock:
            self.active -= 1
        return Reply(body=completion("ok"))


def _chat_task(base_url: str, limit: int | None, calls: int) -> None:
    """A Ray task: `calls` concurrent chats from one worker, optionally behind the shared limit."""
    import asyncio

    from agentracer.llm import ConnectionSettings, get_model
    from agentracer.llm.types import ChatRequest
    from agentracer.scale.limiter import share_limits

    connection = ConnectionSettings(base_url=base_url, use_cache=False, concurrency=calls)
    model = get_model("openai/scripted", connection)
    if limit is not None:
        share_limits(model, limit)

    async def run() -> None:
        requests = [
            ChatRequest(messages=[{"role": "user", "content": str(i)}]) for i in range(calls)
        ]
        await asyncio.gather(*(model.chat(r) for r in requests))
        await model.aclose()

    asyncio.run(run())


def test_the_endpoint_limit_holds_across_workers(ray_cluster: Any) -> None:
    task = ray_cluster.remote(num_cpus=1)(_chat_task)
    unlimited, limited = Recorder(), Recorder()
    with ScriptedServer(default=unlimited) as server:
        ray_cluster.get([task.remote(server.base_url, None, 4) for _ in range(2)])
    with ScriptedServer(default=limited) as server:
        ray_cluster.get([task.remote(server.base_url, 3, 4) for _ in range(2)])
    assert unlimited.peak > 3  # without the shared limit the two workers overlap freely
    assert limited.peak == 3
    assert len(limited.arrivals) == 8


def test_a_429_seen_by_one_worker_pauses_the_others(ray_cluster: Any) -> None:
    from agentracer.llm import ConnectionSettings
    from agentracer.llm.openai_compat import OpenAIBackend
    from agentracer.scale.limiter import endpoint_key, get_limiter

    task = ray_cluster.remote(num_cpus=1)(_chat_task)
    recorder = Recorder(rate_limit_first=True)
    with ScriptedServer(default=recorder) as server:
        key = endpoint_key(OpenAIBackend("scripted", ConnectionSettings(base_url=server.base_url)))
        limiter = get_limiter()
        first = task.remote(server.base_url, 4, 1)
        deadline = time.monotonic() + 60
        while ray_cluster.get(limiter.stats.remote(key))["rate_limited"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        second = task.remote(server.base_url, 4, 1)  # another worker, after the 429
        ray_cluster.get([first, second])
    rate_limited_at = recorder.arrivals[0]
    later = recorder.arrivals[1:]
    assert len(later) == 2
    # both the retry and the other worker's first call waited out Retry-After (1 s)
    assert min(later) - rate_limited_at >= 0.9


def test_eval_on_ray_keeps_to_the_endpoint_limit(
    ray_cluster: Any, who_and_when: Any, tmp_path: Path
) -> None:
    from agentracer.evaluation import RunConfig
    from agentracer.formats import Benchmark
    from agentracer.llm import ConnectionSettings
    from agentracer.scale.eval import run_evaluation_on_ray
    from agentracer.tracers import TracerSettings

    entries = who_and_when.subsets["hand-crafted"][:6]
    small = Benchmark(who_and_when.name, who_and_when.location, {"hand-crafted": entries})
    recorder = Recorder()
    with ScriptedServer(default=recorder) as server:
        connection = ConnectionSettings(base_url=server.base_url, use_cache=False, concurrency=4)
        config = RunConfig(
            bench="who-and-when", subsets=["hand-crafted"], tracer="all-at-once",
            settings=TracerSettings(model="openai/scripted", connection=connection),
        )  # fmt: skip
        outcome = run_evaluation_on_ray(small, config, tmp_path, limit=1)
    assert outcome.computed == 6 and not outcome.failed
    assert recorder.peak == 1 and len(recorder.arrivals) == 6
