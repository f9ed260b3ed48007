import asyncio
import json
from pathlib import Path

import pytest

from agentracer.errors import AgenTracerError, RunDirectoryError
from agentracer.evaluation import RunConfig, evaluate, run_evaluation
from agentracer.evaluation.runner import RESULTS_FILE, read_results
from agentracer.formats import Benchmark
from agentracer.tracers import TracerSettings
from agentracer.tracers.baselines import RandomTracer
from agentracer.trajectory import Trajectory, Verdict


def _config(**overrides) -> RunConfig:
    base = {
        "bench": "who-and-when",
        "subsets": ["hand-crafted", "algorithm-generated"],
        "tracer": "random",
    }
    return RunConfig(**{**base, **overrides})


class CountingTracer(RandomTracer):
    """The random tracer, counting calls; it can be told to crash or interrupt after n calls."""

    def __init__(
        self, stop_after: int | None = None, stop_with: type[BaseException] = KeyboardInterrupt
    ):
        super().__init__(seed=0)
        self.calls: list[str] = []
        self.stop_after = stop_after
        self.stop_with = stop_with

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        if self.stop_after is not None and len(self.calls) >= self.stop_after:
            raise self.stop_with("stopped by the test")
        self.calls.append(trajectory.id)
        return await super().attribute(trajectory, with_ground_truth=with_ground_truth)


def test_summary_has_every_subset_and_the_required_figures(
    who_and_when: Benchmark, tmp_path: Path
) -> None:
    summary, outcome = evaluate(who_and_when, RandomTracer(0), _config(), tmp_path)
    assert outcome.computed == 184 and outcome.resumed == 0
    assert set(summary["subsets"]) == {"hand-crafted", "algorithm-generated", "all"}
    for name, n in (("hand-crafted", 58), ("algorithm-generated", 126), ("all", 184)):
        subset = summary["subsets"][name]
        assert subset["n"] == n
        for key in ("agent_accuracy", "step_accuracy"):
            assert 0 <= subset[key] <= 1
            low, high = subset[f"{key}_ci95"]
            assert low <= subset[key] <= high
        assert set(subset["step_accuracy_within"]) == {"1", "3"}
        assert set(subset["official"]) == {
            "agent_accuracy",
            "step_accuracy",
            "predicted",
            "records",
        }
        assert subset["official"]["records"] == n  # every record file, as the released script
        assert subset["official"]["step_accuracy"] >= subset["step_accuracy"]  # it over-counts
        assert subset["without_agent_step_mismatch"]["n"] == n - {58: 3, 126: 3, 184: 6}[n]
        assert abs(subset["expected"]["agent_accuracy"]["z"]) < 3
        assert abs(subset["expected"]["step_accuracy"]["z"]) < 3
    assert summary["setting"] == "with ground truth"
    assert len(summary["flagged"]["agent_step_mismatch"]) == 6
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert "| hand-crafted | 58 |" in (tmp_path / "results.md").read_text()
    lines = (tmp_path / RESULTS_FILE).read_text().splitlines()
    assert len(lines) == 184
    first = json.loads(lines[0])
    assert {"id", "subset", "gold", "verdict", "score", "flags"} <= set(first)


@pytest.mark.parametrize("concurrency", [1, 8])
def test_interrupted_run_resumes_without_recomputing(
    who_and_when: Benchmark, tmp_path: Path, concurrency: int
) -> None:
    config = _config(concurrency=concurrency)
    interrupted = CountingTracer(stop_after=50)
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(run_evaluation(who_and_when, interrupted, config, tmp_path))
    done = read_results(tmp_path / RESULTS_FILE)
    assert set(done) == set(interrupted.calls)  # every finished verdict was saved, nothing else

    resumed_tracer = CountingTracer()
    summary, outcome = evaluate(who_and_when, resumed_tracer, config, tmp_path)
    assert outcome.resumed == len(done) and outcome.computed == 184 - len(done)
    assert not set(resumed_tracer.calls) & set(done)  # nothing recomputed
    assert len((tmp_path / RESULTS_FILE).read_text().splitlines()) == 184  # nothing duplicated

    fresh, _ = evaluate(who_and_when, RandomTracer(0), config, tmp_path / "fresh")
    for key in ("subsets", "flagged"):
        assert summary[key] == fresh[key]


def test_a_torn_last_line_is_dropped_and_recomputed(
    who_and_when: Benchmark, tmp_path: Path
) -> None:
    config = _config(subsets=["hand-crafted"])
    hand_crafted = Benchmark(
        who_and_when.name,
        who_and_when.location,
        {"hand-crafted": who_and_when.subsets["hand-crafted"]},
    )
    evaluate(hand_crafted, RandomTracer(0), config, tmp_path)
    results = tmp_path / RESULTS_FILE
    text = results.read_text()
    results.write_text(text[: len(text) - 40])  # as if killed mid-write
    tracer = CountingTracer()
    _, outcome = evaluate(hand_crafted, tracer, config, tmp_path)
    assert tracer.calls == ["hand-crafted/58"] and outcome.resumed == 57
    assert len(read_results(results)) == 58


def test_a_different_configuration_cannot_reuse_the_directory(
    who_and_when: Benchmark, tmp_path: Path
) -> None:
    evaluate(who_and_when, RandomTracer(0), _config(), tmp_path)
    with pytest.raises(RunDirectoryError, match="different with_ground_truth"):
        evaluate(who_and_when, RandomTracer(0), _config(with_ground_truth=False), tmp_path)
    with pytest.raises(RunDirectoryError, match="different settings"):
        evaluate(who_and_when, RandomTracer(1), _config(settings=TracerSettings(seed=1)), tmp_path)


def test_a_tracer_error_is_reported_and_retried_next_time(
    who_and_when: Benchmark, tmp_path: Path
) -> None:
    config = _config(concurrency=1)
    failing = CountingTracer(stop_after=10, stop_with=AgenTracerError)
    _, outcome = evaluate(who_and_when, failing, config, tmp_path)
    assert outcome.computed == 10 and len(outcome.failed) == 174
    assert "stopped by the test" in outcome.failed[0]["error"]
    _, again = evaluate(who_and_when, CountingTracer(), config, tmp_path)
    assert again.resumed == 10 and again.computed == 174 and again.failed == []


def test_records_that_fail_to_load_are_skipped_and_reported(data_dir: Path, tmp_path: Path) -> None:
    from agentracer.formats import load_benchmark

    folder = tmp_path / "data" / "Algorithm-Generated"
    folder.mkdir(parents=True)
    for stem in ("1", "2", "3"):
        (folder / f"{stem}.json").write_text(
            (data_dir / "who_and_when" / "Algorithm-Generated" / f"{stem}.json").read_text()
        )
    broken = json.loads((folder / "2.json").read_text())
    broken["mistake_step"] = "99"
    (folder / "2.json").write_text(json.dumps(broken))
    bench = load_benchmark("who-and-when", ["algorithm-generated"], tmp_path / "data")
    summary, outcome = evaluate(
        bench, RandomTracer(0), _config(subsets=["algorithm-generated"]), tmp_path / "run"
    )
    assert summary["subsets"]["algorithm-generated"]["n"] == 2
    [skipped] = outcome.skipped
    assert (
        skipped["path"].endswith("2.json")
        and "mistake_step 99 is outside the history" in skipped["error"]
    )
