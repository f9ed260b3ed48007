"""`annotate` on a real local Ray cluster: candidates as tasks, same labels as in-process."""

from __future__ import annotations

import asyncio
import json
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
    record(team(*ARITHMETIC), ArithmeticUpstream(buggy=True), tmp_path / "failed")
    record(team(*ARITHMETIC), ArithmeticUpstream(), tmp_path / "succeeded")
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
