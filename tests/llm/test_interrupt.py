"""Ctrl-C while the embedded model works: the event loop returns at once, the generation is told
to stop, and `agentracer eval` exits within seconds saying what it kept (not minutes later, in
silence, after every queued generation has run)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from agentracer.llm import ChatRequest
from agentracer.llm.embedded import (
    EmbeddedBackend,
    assemble,
    in_daemon_thread,
    native_calls_running,
)

REPO = Path(__file__).resolve().parents[2]


def test_a_cancelled_native_call_returns_at_once() -> None:
    release = threading.Event()

    async def main() -> None:
        task = asyncio.create_task(in_daemon_thread(release.wait, 60))
        await asyncio.sleep(0.2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    started = time.perf_counter()
    asyncio.run(main())  # asyncio.to_thread would make this wait the full 60 s
    assert time.perf_counter() - started < 5
    assert native_calls_running() >= 1  # abandoned, still blocked
    release.set()
    deadline = time.time() + 5
    while native_calls_running() and time.time() < deadline:
        time.sleep(0.05)
    assert native_calls_running() == 0


def test_errors_and_results_cross_the_thread() -> None:
    assert asyncio.run(in_daemon_thread(lambda x: x + 1, 1)) == 2

    def fail() -> None:
        raise ValueError("native trouble")

    try:
        asyncio.run(in_daemon_thread(fail))
    except ValueError as error:
        assert str(error) == "native trouble"
    else:
        raise AssertionError("the error was lost")


def test_streamed_chunks_make_one_completion() -> None:
    chunks = [
        {"choices": [{"delta": {"role": "assistant", "content": None}, "finish_reason": None}]},
        {"choices": [{"delta": {"content": "Hel"}, "finish_reason": None}]},
        {"choices": [{"delta": {"content": "lo"}, "finish_reason": None}]},
        {"choices": [{"delta": {}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}},
    ]
    done = assemble(chunks)
    assert done["choices"][0]["message"]["content"] == "Hello"
    assert done["choices"][0]["finish_reason"] == "stop"
    assert done["usage"] == {"prompt_tokens": 7, "completion_tokens": 2}
    error = {"error": {"code": 400, "message": "failed to parse grammar"}}
    assert assemble([error]) == error


def test_a_cancelled_generation_stops(embedded: EmbeddedBackend) -> None:
    request = ChatRequest(
        messages=[{"role": "user", "content": "Tell a very long story about a lighthouse."}],
        max_tokens=4000,
    )

    async def main() -> None:
        task = asyncio.create_task(embedded.complete(request))
        await asyncio.sleep(4)  # loaded, prompt read, generating
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    deadline = time.time() + 10
    while native_calls_running() and time.time() < deadline:
        time.sleep(0.1)
    assert native_calls_running() == 0  # told to stop, not 4000 tokens later


def test_ctrl_c_during_eval_on_the_embedded_model(
    tmp_path: Path, data_dir: Path, smollm2_path: Path
) -> None:
    run = tmp_path / "run"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "AGENTRACER_MODELS_DIR": str(smollm2_path.parent),
    }
    env.pop("AGENTRACER_DATA_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "agentracer", "eval", "--bench", "who-and-when",
         "--subset", "hand-crafted", "--tracer", "all-at-once", "--model", "local/smollm2-135m",
         "--no-cache", "--data", str(data_dir), "--out", str(run)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(12)  # the model loads and works on long Who&When logs (minutes each here)
    assert process.poll() is None, process.communicate()
    sent = time.perf_counter()
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert time.perf_counter() - sent < 10, stderr
    assert process.returncode == 130, stderr
    assert f"interrupted: finished verdicts are kept in {run}" in " ".join(stderr.split())
    assert "run the same command again to resume" in stderr
    assert (run / "config.json").is_file()
