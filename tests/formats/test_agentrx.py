"""AgentRx's labelled runs (Magentic-One re-annotation, tau-bench retail) and tau-bench results,
read from the real files in ../shared/data/agentrx."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agentracer.errors import TraceFormatError
from agentracer.formats import Benchmark, format_specs, load_benchmark, load_file
from agentracer.formats.benchmarks import BENCH_SUBSETS, system_of
from agentracer.formats.registry import Probe
from agentracer.formats.who_and_when import FLAG_AGENT_STEP_MISMATCH, FLAG_GOLD_NOT_BLAMABLE
from agentracer.trajectory import Outcome, StepKind, Trajectory


@pytest.fixture(scope="module")
def agentrx_data(data_dir: Path) -> Path:
    path = data_dir / "agentrx" / "data"
    if not (path / "ground_truth").is_dir():
        pytest.skip(f"AgentRx data not found at {path}")
    return path


@pytest.fixture(scope="module")
def tau(agentrx_data: Path) -> Benchmark:
    return load_benchmark("tau-retail", data=agentrx_data.parent.parent)


@pytest.fixture(scope="module")
def magentic(agentrx_data: Path) -> Benchmark:
    return load_benchmark("agentrx-magentic", data=agentrx_data.parent.parent)


def _runs(benchmark: Benchmark) -> dict[str, Trajectory]:
    assert benchmark.problems() == []
    return {t.id: t for _, t in benchmark.trajectories()}


def test_tau_retail_holds_the_labelled_failures_and_the_successes(tau: Benchmark) -> None:
    runs = _runs(tau)
    labelled = [t for t in runs.values() if t.label is not None]
    assert len(runs) == 102 and len(labelled) == 29
    assert all(t.outcome is Outcome.FAILURE for t in labelled)
    assert sum(t.outcome is Outcome.SUCCESS and t.label is None for t in runs.values()) == 73


def test_tau_policy_is_context_and_the_annotated_step_is_the_message_index(tau: Benchmark) -> None:
    run = _runs(tau)["tau-retail/2"]
    assert run.context.startswith("# Retail agent policy")
    assert all("Retail agent policy" not in step.content for step in run.steps)
    assert run.agents == ["assistant"]
    assert run.question.startswith("You are Yusuf Rossi")  # the task, from info.task
    assert run.ground_truth is not None and "list_all_product_types" in run.ground_truth
    assert run.label is not None
    # "At step 7, the agent did not correctly count the number of available t-shirts"
    decisive = run.steps[run.label.step]
    assert decisive.source_id == "7" and decisive.agent == "assistant"
    assert "11 available T-shirt options" in decisive.content
    assert [f.step for f in run.label.failures] == [1, 5] and run.label.failure_steps() == [1, 5]
    assert (
        run.steps[1].source_id == "3"
        and run.steps[1].tool_calls[0].name == "list_all_product_types"
    )


def test_a_root_cause_on_the_simulated_user_is_flagged_not_blamable(tau: Benchmark) -> None:
    runs = _runs(tau)
    on_user = [t for t in runs.values() if FLAG_GOLD_NOT_BLAMABLE in t.flags]
    assert len(on_user) == 8
    for run in on_user:
        assert run.label is not None and run.label.agent == "user"
        assert run.steps[run.label.step].kind is StepKind.USER
        assert run.match_agent(run.label.agent) is None
    # 21 root causes on the assistant; one marks its silence after the last user turn
    on_assistant = [t for t in runs.values() if t.label and t.label.agent == "assistant"]
    assert len(on_assistant) == 21
    assert [t.id for t in on_assistant if FLAG_AGENT_STEP_MISMATCH in t.flags] == ["tau-retail/80"]


def test_magentic_root_cause_is_message_number_minus_one(magentic: Benchmark) -> None:
    runs = _runs(magentic)
    assert len(runs) == 44 and all(t.label is not None for t in runs.values())
    # "FileSurfer hallucinated ... attempted to read a non-existent file path_to_july_2020_paper.pdf"
    run = runs["agentrx-magentic/5f982798-16b9-4051-ab57-cfc7ebdb2a91"]
    assert run.label is not None and (run.label.agent, run.label.step) == ("FileSurfer", 32)
    assert "path_to_july_2020_paper.pdf" in run.steps[32].content
    assert "Error 404" in run.steps[32].content
    assert len(run.label.failures) == 3 and run.label.failure_steps() == [12, 16, 32]
    # "The orchestrator did not search on tripadvisor": its instruction names no tripadvisor
    run = runs["agentrx-magentic/a9074997e698f912b9e751779ea19c1e92fa148404e90e0ae997acea3f9559b0"]
    assert run.label is not None and (run.label.agent, run.label.step) == ("Orchestrator", 3)
    assert run.steps[3].speaker == "Orchestrator (-> WebSurfer)"
    assert "tripadvisor" not in run.steps[3].content.lower()
    # the annotators' own spelling `Websurfer` is the run's `WebSurfer`
    agents = {f.agent for t in runs.values() for f in (t.label.failures if t.label else [])}
    assert agents <= {"WebSurfer", "Orchestrator", "FileSurfer", "Assistant"}
    # the root cause's agent acted at the mapped step in 43 of 44 runs
    mismatched = [t.id for t in runs.values() if FLAG_AGENT_STEP_MISMATCH in t.flags]
    # the other sits on "Next speaker Assistant", one message before the Assistant invents an
    # operator: kept as annotated, flagged
    assert mismatched == ["agentrx-magentic/14569e28-c88c-43e4-8c32-097d35b9a67d"]


def test_magentic_runs_are_who_and_when_hand_crafted_runs(
    magentic: Benchmark, who_and_when: Benchmark
) -> None:
    """Same logs, same steps: one system, never trained on one and tested on the other."""
    ours = {t.id.split("/")[1]: t for _, t in magentic.trajectories()}
    theirs = {
        t.metadata["question_ID"]: t for s, t in who_and_when.trajectories() if s == "hand-crafted"
    }
    assert set(ours) <= set(theirs)
    for key, run in ours.items():
        assert [(s.agent, s.kind, s.content) for s in run.steps] == [
            (s.agent, s.kind, s.content) for s in theirs[key].steps
        ]
    assert system_of("agentrx-magentic") == system_of("hand-crafted") == "magentic-one"
    systems = {system_of(s) for subsets in BENCH_SUBSETS.values() for s in subsets}
    assert len(systems) == sum(len(s) for s in BENCH_SUBSETS.values()) - 1


def test_tau_bench_results_file_reads_with_outcomes(agentrx_data: Path) -> None:
    runs = load_file(agentrx_data / "tau_retail" / "tau_dataset_full.json")
    assert len(runs) == 100 and runs[0].id == "task0-trial0"
    assert sum(t.outcome is Outcome.FAILURE for t in runs) == 27
    assert all(t.context and t.steps[0].kind is StepKind.USER for t in runs)
    assert all(s.role != "system" for t in runs for s in t.steps)


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("tau_retail/tau_dataset_full.json", "tau-bench"),
        ("ground_truth/tau_ground_truth.json", "agentrx"),
        ("ground_truth/magentic_one_ground_truth.json", "agentrx"),
    ],
)
def test_exactly_one_format_detects_each_agentrx_file(
    agentrx_data: Path, relative: str, expected: str
) -> None:
    probe = Probe(agentrx_data / relative)
    assert [spec.name for spec in format_specs() if spec.format.detect(probe)] == [expected]


def test_a_ground_truth_file_reads_with_the_logs_beside_it(agentrx_data: Path) -> None:
    runs = load_file(agentrx_data / "ground_truth" / "magentic_one_ground_truth.json")
    assert len(runs) == 44 and all(t.label and t.label.failures for t in runs)


def test_a_missing_log_fails_alone(agentrx_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "ground_truth").mkdir(parents=True)
    shutil.copytree(agentrx_data / "magentic_dataset", data / "magentic_dataset")
    truth = json.loads(
        (agentrx_data / "ground_truth" / "magentic_one_ground_truth.json").read_text()
    )
    (data / "magentic_dataset" / f"{truth[0]['trajectory_id']}.json").unlink()
    truth[1]["failures"][0]["step_number"] = 100000
    (data / "ground_truth" / "magentic_one_ground_truth.json").write_text(json.dumps(truth))
    bench = load_benchmark("agentrx-magentic", data=tmp_path)
    problems = [p.message for p in bench.problems()]
    assert len(problems) == 2 and len(list(bench.trajectories())) == 42
    assert f"the log of run {truth[0]['trajectory_id']} is not in" in problems[0]
    assert "step_number 100000 is outside the log" in problems[1]
    with pytest.raises(TraceFormatError):
        load_file(data / "ground_truth" / "magentic_one_ground_truth.json")


def test_every_catalogued_subset_has_a_system() -> None:
    assert system_of("algorithm-generated") == "captain-agent"
    assert system_of("tracertraj") == "tracertraj"
    assert system_of("tau-retail") == "tau-bench-retail"
    assert system_of("dataset", "runs/labelled") == "dataset:labelled"  # `annotate` output
    assert system_of("dataset", "other/labelled.jsonl") != system_of("hand-crafted")


def test_runs_by_system_puts_both_magentic_one_sources_together(agentrx_data: Path) -> None:
    from agentracer.formats.benchmarks import runs_by_system

    root = agentrx_data.parent.parent
    grouped = runs_by_system(["who-and-when", "agentrx-magentic", "tau-retail"], root)
    assert sorted(grouped) == ["captain-agent", "magentic-one", "tau-bench-retail"]
    assert {s for s, _ in grouped["magentic-one"]} == {"hand-crafted", "agentrx-magentic"}
    assert len(grouped["magentic-one"]) == 58 + 44
    assert len(grouped["tau-bench-retail"]) == 21  # the simulated user's 8 are left out
