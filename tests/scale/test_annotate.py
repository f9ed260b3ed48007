"""`annotate` on a real local Ray cluster: candidates as tasks, same labels as in-process."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentracer.datasets.builder import JSONL_FILE, LOG_FILE, annotate
from agentracer.llm import ConnectionSettings, get_model
from agentracer.replay.counterfactual import ModelAnalyzer
from agentracer.replay.recording import Recording
from agentracer.replay.session import record
from agentracer.replay.upstream import make_upstream
from agentracer.scale.annotate import annotate_on_ray
from tests.llm.loopback import Reply, ScriptedServer, completion
from tests.replay.conftest import ARITHMETIC, ArithmeticUpstream, team

FIX = "The sum of the two numbers is 5."


def _respond(body: dict[str, Any]) -> Reply:
    """One loopback server for all models: `analyzer` proposes the fix, `buggy`/`good` are the
    arithmetic team's model with and without its bug."""
    if body.get("model") == "analyzer":
        return Reply(body=completion(FIX))
    return Reply(body=ArithmeticUpstream(buggy=body.get("model") == "buggy").complete(body))


def _upstream_name(source: Recording) -> str:
    return "openai/good" if source.outcome.status == "success" else "openai/buggy"


@pytest.fixture
def recordings(tmp_path: Path) -> list[Path]:
    # Recorded in a small project directory of their own: every Ray replay copies the
    # recorded working directory, and the test's own (a checkout with its .venv) is too big.
    project = tmp_path / "project"
    project.mkdir()
    program = dataclasses.replace(team(*ARITHMETIC), cwd=project)
    record(program, ArithmeticUpstream(buggy=True), tmp_path / "failed")
    record(program, ArithmeticUpstream(), tmp_path / "succeeded")
    return [tmp_path / "failed", tmp_path / "succeeded"]


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / JSONL_FILE).read_text().splitlines()]


def test_ray_labels_match_the_sequential_search(
    ray_cluster: Any, recordings: list[Path], tmp_path: Path
) -> None:
    with ScriptedServer(default=_respond) as server:
        connection = ConnectionSettings(base_url=server.base_url, use_cache=False)
        sequential = asyncio.run(
            annotate(
                recordings, tmp_path / "local",
                upstream_for=lambda s: make_upstream(_upstream_name(s), connection),
                analyzer=ModelAnalyzer(get_model("openai/analyzer", connection)),
            )
        )  # fmt: skip
        on_ray = annotate_on_ray(
            recordings, tmp_path / "ray", analyzer="openai/analyzer",
            upstream_for=_upstream_name, connection=connection,
        )  # fmt: skip
        assert [r.status for r in on_ray] == [r.status for r in sequential] == ["labelled"] * 2
        local, ray = _records(tmp_path / "local"), _records(tmp_path / "ray")
        for mine, theirs in zip(ray, local, strict=True):
            for key in ("mistake_agent", "mistake_step", "history", "question", "ground_truth"):
                assert mine[key] == theirs[key]
            assert mine["provenance"]["method"] == theirs["provenance"]["method"]
            # speculative replays launched before the label was decided are counted, not hidden
            assert (
                mine["provenance"]["details"]["replays"]
                >= theirs["provenance"]["details"]["replays"]
            )
        assert (ray[0]["mistake_agent"], ray[0]["mistake_step"]) == ("Worker", "1")
        # each candidate replayed into its own directory
        replays = sorted(p.name for p in (tmp_path / "ray" / "replays").glob("*/*"))
        assert len(replays) == len(set(replays)) and len(replays) >= 3
        # a re-run finds every recording done and replays nothing
        before = len(server.requests)
        again = annotate_on_ray(
            recordings, tmp_path / "ray", analyzer="openai/analyzer",
            upstream_for=_upstream_name, connection=connection,
        )  # fmt: skip
        assert len(server.requests) == before and [r.status for r in again] == ["labelled"] * 2
    assert len((tmp_path / "ray" / LOG_FILE).read_text().splitlines()) == 2


def test_the_early_stop_launches_nothing_after_the_label(
    ray_cluster: Any, recordings: list[Path], tmp_path: Path
) -> None:
    with ScriptedServer(default=_respond) as server:
        connection = ConnectionSettings(base_url=server.base_url, use_cache=False)
        annotate_on_ray(
            recordings[:1], tmp_path / "ray", analyzer="openai/analyzer",
            upstream_for=_upstream_name, connection=connection, window=1,
        )  # fmt: skip
    # one at a time: step 0 (no flip), step 1 (flip); the reviewer's step 3 is never tried
    tried = sorted(p.name for p in (tmp_path / "ray" / "replays").glob("*/*"))
    assert tried == ["step0-replay-0", "step1-replay-0"]


def _scratch_recording(tmp_path: Path) -> Path:
    """A failed run of a program that passes the worker's answer through `scratch.txt` in its
    working directory, waiting between writing and reading it back."""
    project = tmp_path / "project"
    project.mkdir()
    program = dataclasses.replace(
        team(*ARITHMETIC, "--scratch", "scratch.txt", "--scratch-wait", "3"), cwd=project
    )
    record(program, ArithmeticUpstream(buggy=True), tmp_path / "failed")
    (project / "scratch.txt").unlink()
    return tmp_path / "failed"


def test_concurrent_replays_run_in_their_own_working_directory(
    ray_cluster: Any, tmp_path: Path
) -> None:
    # Two candidates (step 0: planner fixed, worker still writes 6; step 1: worker writes 5)
    # replay at once on 2 CPUs. In one shared directory the later write wins for both, so the
    # label would be step 0 or none; each in its own copy, the label is the sequential one.
    failed = _scratch_recording(tmp_path)
    with ScriptedServer(default=_respond) as server:
        connection = ConnectionSettings(base_url=server.base_url, use_cache=False)
        reports = annotate_on_ray(
            [failed], tmp_path / "ray", analyzer="openai/analyzer",
            upstream_for=_upstream_name, connection=connection, window=2,
        )  # fmt: skip
    assert reports[0].status == "labelled"
    record_ = _records(tmp_path / "ray")[0]
    assert (record_["mistake_agent"], record_["mistake_step"]) == ("Worker", "1")
    replays = tmp_path / "ray" / "replays"
    assert {p.name for p in replays.glob("*/*")} >= {"step0-replay-0", "step1-replay-0"}
    assert not list(replays.rglob("workdir"))  # the copies are removed after each replay
    assert not (tmp_path / "project" / "scratch.txt").exists()  # never written in place


class Concurrency:
    """Wraps a responder: 0.2 s per call, counts calls in flight, answers some with 429."""

    def __init__(self, respond: Any, every: int = 4) -> None:
        self.respond, self.every = respond, every
        self.lock = threading.Lock()
        self.active = self.peak = self.calls = self.rejected = 0

    def __call__(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            self.calls += 1
            if self.calls % self.every == 0:
                self.rejected += 1
                return Reply(
                    status=429, body={"error": {"message": "slow down"}},
                    headers={"retry-after": "0.3"},
                )  # fmt: skip
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.2)
        with self.lock:
            self.active -= 1
        return self.respond(body)


def test_annotate_keeps_to_the_endpoint_limit_across_workers(
    ray_cluster: Any, recordings: list[Path], tmp_path: Path
) -> None:
    from agentracer.scale.limiter import get_limiter

    counted = Concurrency(_respond)
    limiter = get_limiter()  # held here, so it outlives the run for its statistics
    with ScriptedServer(default=counted) as server:
        connection = ConnectionSettings(base_url=server.base_url, use_cache=False)
        reports = annotate_on_ray(
            recordings, tmp_path / "ray", analyzer="openai/analyzer",
            upstream_for=_upstream_name, connection=connection, window=4, endpoint_limit=1,
        )  # fmt: skip
        stats = ray_cluster.get(limiter.stats.remote(server.base_url))
    assert [r.status for r in reports] == ["labelled"] * 2
    records = _records(tmp_path / "ray")
    assert (records[0]["mistake_agent"], records[0]["mistake_step"]) == ("Worker", "1")
    # analyzer and replay calls of 2 workers, one at a time; the 429s were seen by the limiter
    assert counted.peak == 1 and counted.calls >= 8
    assert counted.rejected >= 2 and stats["rate_limited"] == counted.rejected
    assert stats["peak"] == 1


def _attack(body: dict[str, Any]) -> Reply:
    """`_respond`, plus an attacker that plants a wrong sum in the worker's output and returns
    any other step unchanged (no perturbation: nothing is replayed)."""
    if body.get("model") == "attacker":
        prompt = body["messages"][-1]["content"]
        output = prompt.split("one agent of a team:\n", 1)[1].split("\n\nRewrite it", 1)[0]
        return Reply(body=completion(output.replace("is 5", "is 7")))
    return _respond(body)


def test_the_attacker_runs_as_tasks_with_the_in_process_label(
    ray_cluster: Any, recordings: list[Path], tmp_path: Path
) -> None:
    from agentracer.datasets.builder import AnnotateOptions
    from agentracer.replay.injection import ModelAttacker

    options = AnnotateOptions(operators=[])  # the attacker's candidates only
    succeeded = recordings[1:]
    with ScriptedServer(default=_attack) as server:
        connection = ConnectionSettings(base_url=server.base_url, use_cache=False)
        sequential = asyncio.run(
            annotate(
                succeeded, tmp_path / "local",
                upstream_for=lambda s: make_upstream(_upstream_name(s), connection),
                analyzer=ModelAnalyzer(get_model("openai/analyzer", connection)),
                attacker=ModelAttacker(get_model("openai/attacker", connection)),
                options=options,
            )
        )  # fmt: skip
        on_ray = annotate_on_ray(
            succeeded, tmp_path / "ray", analyzer="openai/analyzer", attacker="openai/attacker",
            upstream_for=_upstream_name, connection=connection, options=options,
        )  # fmt: skip
    assert [r.status for r in on_ray] == [r.status for r in sequential] == ["labelled"]
    mine, theirs = _records(tmp_path / "ray")[0], _records(tmp_path / "local")[0]
    for key in ("mistake_agent", "mistake_step", "history"):
        assert mine[key] == theirs[key]
    assert (mine["mistake_agent"], mine["mistake_step"]) == ("Worker", "1")
    assert mine["provenance"]["details"]["operator"] == "attacker:openai/attacker"


def test_the_cli_runs_the_attacker_on_ray_behind_the_endpoint_limit(
    ray_cluster: Any, recordings: list[Path], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from agentracer.cli import app

    out = tmp_path / "ray"
    with ScriptedServer(default=_attack) as server:
        args = ["annotate", str(recordings[1]), "--out", str(out), "--ray", "--endpoint-limit", "2"]
        args += ["--analyzer", "openai/analyzer", "--attacker", "openai/attacker"]
        args += ["--model", "openai/good", "--operator", "truncate-code"]  # no code: no candidate
        args += ["--base-url", server.base_url, "--cwd-copy-limit", "16"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 of 1 recording labelled" in result.output
    assert _records(out)[0]["provenance"]["details"]["operator"] == "attacker:openai/attacker"


def test_a_working_directory_over_the_limit_stops_before_any_replay(
    ray_cluster: Any, tmp_path: Path
) -> None:
    from agentracer.replay.workspace import WorkspaceError

    failed = _scratch_recording(tmp_path)
    (tmp_path / "project" / "data.bin").write_bytes(b"x" * 4096)
    with pytest.raises(WorkspaceError, match="--cwd-copy-limit"):
        annotate_on_ray(
            [failed], tmp_path / "ray", analyzer="openai/analyzer",
            upstream_for=_upstream_name, cwd_copy_limit_mb=0.001,
        )  # fmt: skip
    assert not (tmp_path / "ray" / "replays").exists()
