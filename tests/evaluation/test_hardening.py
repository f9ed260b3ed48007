"""A run survives bad answers, torn files and a second process (issue 9)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.evaluation import RunConfig, evaluate
from agentracer.evaluation.runner import CONFIG_FILE, RESULTS_FILE, SUMMARY_FILE, read_results
from agentracer.formats import Benchmark
from agentracer.tracers.baselines import RandomTracer
from tests.evaluation.test_runner import CountingTracer
from tests.llm.loopback import Reply, ScriptedServer, completion, garbage

runner = CliRunner()


def _hand_crafted(who_and_when: Benchmark) -> Benchmark:
    return Benchmark(
        who_and_when.name,
        who_and_when.location,
        {"hand-crafted": who_and_when.subsets["hand-crafted"]},
    )


def _config() -> RunConfig:
    return RunConfig(bench="who-and-when", subsets=["hand-crafted"], tracer="random")


def test_any_exception_on_one_trajectory_is_its_recorded_failure(
    who_and_when: Benchmark, tmp_path: Path
) -> None:
    bench = _hand_crafted(who_and_when)
    broken = CountingTracer(stop_after=5, stop_with=ValueError)  # a bug, not one of our errors
    summary, outcome = evaluate(bench, broken, _config(), tmp_path)
    assert outcome.computed == 5 and len(outcome.failed) == 53
    assert outcome.failed[0]["error"] == "ValueError: stopped by the test"
    assert json.loads((tmp_path / SUMMARY_FILE).read_text())["failed"] == summary["failed"]
    _, again = evaluate(bench, CountingTracer(), _config(), tmp_path)
    assert again.resumed == 5 and again.computed == 53 and again.failed == []


def test_results_cut_inside_a_multibyte_character_are_recovered(
    who_and_when: Benchmark, tmp_path: Path
) -> None:
    bench = _hand_crafted(who_and_when)
    evaluate(bench, RandomTracer(0), _config(), tmp_path)
    results = tmp_path / RESULTS_FILE
    lines = results.read_bytes().splitlines(keepends=True)
    last = json.loads(lines[-1])
    last["verdict"]["reason"] = "café " * 50
    torn = json.dumps(last, ensure_ascii=False).encode("utf-8")
    cut = torn[: torn.index("é".encode()) + 1]  # inside the two bytes of an é
    results.write_bytes(b"".join(lines[:-1]) + cut)
    tracer = CountingTracer()
    _, outcome = evaluate(bench, tracer, _config(), tmp_path)
    assert outcome.resumed == 57 and tracer.calls == ["hand-crafted/58"]
    assert len(read_results(results)) == 58
    results.read_text(encoding="utf-8")  # clean again


def test_a_torn_config_is_recovered_and_keeps_the_results(
    who_and_when: Benchmark, tmp_path: Path
) -> None:
    bench = _hand_crafted(who_and_when)
    evaluate(bench, RandomTracer(0), _config(), tmp_path)
    config = tmp_path / CONFIG_FILE
    config.write_bytes(config.read_bytes()[:37])  # killed mid-write by an older version
    tracer = CountingTracer()
    _, outcome = evaluate(bench, tracer, _config(), tmp_path)
    assert outcome.resumed == 58 and tracer.calls == []
    assert RunConfig.model_validate_json(config.read_text()).tracer == "random"


def _eval(data_dir: Path, out: Path, *extra: str):
    return runner.invoke(app, [
        "eval", "--bench", "who-and-when", "--subset", "hand-crafted", "--data", str(data_dir),
        "--out", str(out), *extra,
    ])  # fmt: skip


def test_a_second_eval_on_the_same_directory_is_refused(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from agentracer.evaluation.lock import RunLock\n"
         "with RunLock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)",
         str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        refused = _eval(data_dir, out, "--tracer", "random")
        assert refused.exit_code == 2
        assert f"in use by another evaluation (pid {holder.pid} on " in refused.stderr
        assert not (out / RESULTS_FILE).exists()
    finally:
        holder.kill()  # a dead holder leaves its lock file behind
        holder.wait()
    taken_over = _eval(data_dir, out, "--tracer", "random")
    assert taken_over.exit_code == 0, taken_over.output
    assert len((out / RESULTS_FILE).read_text().splitlines()) == 58


def test_garbage_answers_fail_their_trajectories_and_the_run_goes_on(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTRACER_CACHE_DIR", str(tmp_path / "cache"))
    answer = Reply(body=completion("Agent Name: WebSurfer\nStep Number: 1\nReason: r"))
    with ScriptedServer(answer) as server:
        server.script = [garbage("html"), garbage("invalid-json"), garbage("number-content")]
        flags = ("--tracer", "all-at-once", "--model", "openai/scripted",
                 "--base-url", server.base_url, "--concurrency", "1")  # fmt: skip
        first = _eval(data_dir, tmp_path / "run", *flags)
        assert first.exit_code == 3, first.output
        assert "3 trajectories failed" in " ".join(first.stderr.split())
        summary = json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())
        assert summary["computed"] == 55 and len(summary["failed"]) == 3
        reasons = " ".join(f["error"] for f in summary["failed"])
        assert "not a chat completion" in reasons and "cannot be read" in reasons
        assert "content is a int" in reasons
        second = _eval(data_dir, tmp_path / "run", *flags)  # the server is fine now
        assert second.exit_code == 0, second.output
        summary = json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())
        assert summary["computed"] == 3 and summary["resumed"] == 55 and summary["failed"] == []


def test_a_run_that_scored_nothing_exits_non_zero(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTRACER_CACHE_DIR", str(tmp_path / "cache"))
    with ScriptedServer(garbage("html")) as server:
        result = _eval(data_dir, tmp_path / "run", "--tracer", "all-at-once", "--model",
                       "openai/scripted", "--base-url", server.base_url)  # fmt: skip
    assert result.exit_code == 1
    assert "nothing could be scored: 58 failed, 0 skipped" in " ".join(result.stderr.split())
    assert (tmp_path / "run" / SUMMARY_FILE).is_file()
    unlabelled = tmp_path / "unlabelled.jsonl"
    record = {"question": "q", "history": [{"content": "hi", "role": "user", "name": "A"}]}
    unlabelled.write_text(json.dumps(record) + "\n")
    skipped = runner.invoke(app, ["eval", "--bench", str(unlabelled), "--tracer", "random",
                                  "--out", str(tmp_path / "run2")])  # fmt: skip
    assert skipped.exit_code == 1
    assert "no gold label" in skipped.stderr and "nothing could be scored" in skipped.stderr
