"""The TracerTraj builder on recordings of the scripted team (deterministic upstream)."""

import asyncio
import json
from pathlib import Path

import datasets
import pytest

from agentracer.datasets.builder import JSONL_FILE, PARQUET_FILE, SCRUBBED, annotate
from agentracer.formats import load_benchmark
from agentracer.replay.session import record
from tests.replay.conftest import ARITHMETIC, ArithmeticUpstream, team
from tests.replay.test_counterfactual import ScriptedAnalyzer


@pytest.fixture
def recordings(tmp_path: Path) -> list[Path]:
    record(team(*ARITHMETIC), ArithmeticUpstream(buggy=True), tmp_path / "failed")
    record(team(*ARITHMETIC), ArithmeticUpstream(), tmp_path / "succeeded")
    record(team("--no-calls"), ArithmeticUpstream(), tmp_path / "empty")
    return [tmp_path / "failed", tmp_path / "succeeded", tmp_path / "empty"]


def _annotate(recordings: list[Path], out: Path):
    upstream_for = lambda source: ArithmeticUpstream(buggy=source.outcome.status != "success")  # noqa: E731
    return asyncio.run(
        annotate(recordings, out, upstream_for=upstream_for, analyzer=ScriptedAnalyzer())
    )


def test_both_procedures_label_and_write_a_loadable_dataset(
    recordings: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "dataset"
    reports = _annotate(recordings, out)
    assert [r.status for r in reports] == ["labelled", "labelled", "skipped (no-calls)"]
    records = [json.loads(line) for line in (out / JSONL_FILE).read_text().splitlines()]
    replayed, injected = records
    assert (replayed["mistake_agent"], replayed["mistake_step"]) == ("Worker", "1")
    assert replayed["provenance"]["method"] == "counterfactual-replay"
    assert replayed["provenance"]["details"]["replays"] == 2
    assert (injected["mistake_agent"], injected["mistake_step"]) == ("Worker", "1")
    assert injected["provenance"]["method"] == "fault-injection"
    assert injected["provenance"]["details"]["operator"] == "change-number"
    # The injected record is the failing replay: the worker's sum is no longer 5.
    assert "5" not in injected["history"][1]["content"] and injected["ground_truth"] == "5"
    assert [h["role"] for h in injected["history"]] == [
        "assistant",
        "assistant",
        "tool",
        "assistant",
    ]
    # Loadable by `datasets`, scored by `agentracer eval --bench DIR`.
    table = datasets.load_dataset("parquet", data_files=str(out / PARQUET_FILE), split="train")
    assert (
        table.num_rows == 2
        and json.loads(table[0]["provenance"])["method"] == "counterfactual-replay"
    )
    bench = load_benchmark(str(out))
    loaded = [t for _, t in bench.trajectories()]
    assert len(loaded) == 2 and bench.problems() == []
    assert loaded[0].agents == ["Planner", "Worker", "Reviewer"]  # the tool result is not an agent
    assert (
        loaded[0].label is not None and loaded[0].label.provenance.method == "counterfactual-replay"
    )


def test_no_trace_of_how_a_record_was_made_in_its_history(
    recordings: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "dataset"
    _annotate(recordings, out)
    text = (out / JSONL_FILE).read_text()
    histories = json.dumps([json.loads(line)["history"] for line in text.splitlines()])
    for leak in (str(tmp_path), "replays", "change-number", "step1-", "injected", "attacked"):
        assert leak not in histories


def test_scrub_replaces_run_directories(tmp_path: Path) -> None:
    from agentracer.datasets.builder import scrub
    from agentracer.formats import load_one
    from tests.conftest import EXAMPLE

    trajectory = load_one(EXAMPLE)
    place = tmp_path / "step1-change-number-0"
    trajectory.steps[2].content = f"Traceback: File {place}/solution.py, line 3"
    cleaned = scrub(trajectory, [place])
    assert cleaned.steps[2].content == f"Traceback: File {SCRUBBED}/solution.py, line 3"


def test_a_rerun_resumes_without_replaying(recordings: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    _annotate(recordings, out)
    before = sorted(p.name for p in (out / "replays").rglob("recording.json"))
    again = _annotate(recordings, out)
    assert [r.status for r in again] == ["labelled", "labelled", "skipped (no-calls)"]
    assert sorted(p.name for p in (out / "replays").rglob("recording.json")) == before


def test_analyzer_usage_is_per_recording(tmp_path: Path) -> None:
    """Issue 18, item 17: annotate.log's analyzer_usage counts the calls made for that
    recording only (it was the running total over all recordings before)."""
    from agentracer.llm import ConnectionSettings, get_model
    from agentracer.replay.counterfactual import ModelAnalyzer
    from tests.llm.loopback import Reply, ScriptedServer, completion

    for name in ("first", "second"):
        record(team(*ARITHMETIC), ArithmeticUpstream(buggy=True), tmp_path / name)
    fix = "The sum of the two numbers is 5."
    with ScriptedServer(default=Reply(body=completion(fix, 10, 5))) as server:
        model = get_model(
            "openai/scripted", ConnectionSettings(base_url=server.base_url, max_retries=0)
        )
        asyncio.run(
            annotate([tmp_path / "first", tmp_path / "second"], tmp_path / "out",
                     upstream_for=lambda _: ArithmeticUpstream(buggy=True),
                     analyzer=ModelAnalyzer(model))
        )  # fmt: skip
    logged = [
        json.loads(line) for line in (tmp_path / "out" / "annotate.log").read_text().splitlines()
    ]
    assert [entry["status"] for entry in logged] == ["labelled", "labelled"]
    for entry in logged:  # one proposed fix per step tried, each 10 + 5 tokens
        tried = len(entry["record"]["provenance"]["details"]["steps_tried"])
        usage = entry["detail"]["analyzer_usage"]
        assert usage["calls"] == tried and usage["completion_tokens"] == 5 * tried
