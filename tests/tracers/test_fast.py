"""The fast tracer: features, the ranking model, the shipped model and `train-fast`."""

import asyncio
import json
from pathlib import Path

import pytest

from agentracer.errors import AgenTracerError
from agentracer.formats import Benchmark, load_one
from agentracer.tracers import TracerSettings, create_tracer
from agentracer.tracers.fast.anchor import choose_anchor, rule_ranking
from agentracer.tracers.fast.families import feature_set
from agentracer.tracers.fast.features import FEATURES, step_features
from agentracer.tracers.fast.model import TrainSettings, load_model, softmax, train
from agentracer.tracers.fast.tracer import DEFAULT_MODEL, FastTracer
from agentracer.tracers.fast.training import LOSO_KEY, MODEL_FILE, TRAINING_FILE, training_ids
from agentracer.tracers.structure import is_consistent
from agentracer.trajectory import Label, Step, StepKind, Trajectory
from tests.conftest import EXAMPLE

EX = load_one(EXAMPLE)


def _planted(seed: int, n_agent_steps: int = 8) -> Trajectory:
    """A run whose decisive step is the one followed by a failing tool call; the rest noise."""
    import random

    rng = random.Random(seed)
    gold = rng.randrange(n_agent_steps)
    steps: list[Step] = []
    for k in range(n_agent_steps):
        agent = rng.choice(["Alpha", "Beta", "Gamma"])
        words = " ".join(rng.choice(["plan", "look", "data", "value", "next"]) for _ in range(12))
        steps.append(Step(index=len(steps), agent=agent, speaker=agent, content=words))
        result = "Traceback: ValueError raised" if k == gold else "exitcode: 0 ok output"
        steps.append(
            Step(index=len(steps), agent="terminal", speaker="terminal", kind=StepKind.TOOL,
                 content=result)
        )  # fmt: skip
    agents = list(dict.fromkeys(s.agent for s in steps if s.kind is StepKind.AGENT))
    return Trajectory(
        id=f"planted-{seed}",
        question="compute the value",
        steps=steps,
        agents=agents,
        label=Label(agent=steps[2 * gold].agent, step=2 * gold),
    )


def test_features_cover_every_agent_step_and_never_read_the_label() -> None:
    indices, rows = step_features(EX)
    assert indices == [s.index for s in EX.agent_steps()]
    assert all(len(row) == len(FEATURES) for row in rows)
    unlabelled = EX.model_copy(update={"label": None, "ground_truth": None})
    assert step_features(unlabelled) == (indices, rows)


def test_the_ranker_learns_a_planted_cue_and_generalises() -> None:
    train_set = [_planted(seed) for seed in range(40)]
    test_set = [_planted(seed) for seed in range(1000, 1020)]
    model = train(train_set, TrainSettings(n_estimators=40), calibrate=False)
    tracer = FastTracer(model)
    hits = 0
    for trajectory in test_set:
        verdict = asyncio.run(tracer.attribute(trajectory))
        assert is_consistent(verdict, trajectory)
        assert trajectory.label is not None
        hits += verdict.step == trajectory.label.step
    assert hits >= 18  # a uniform guess among 8 agent steps gets ~2.5 of 20


def test_softmax_is_a_distribution() -> None:
    probabilities = softmax([1.0, 2.0, 3.0], temperature=2.0)
    assert sum(probabilities) == pytest.approx(1.0)
    assert probabilities == sorted(probabilities)


def test_the_shipped_model_saw_every_labelled_source_and_its_card_holds_the_loso_table() -> None:
    assert DEFAULT_MODEL.stat().st_size < 20 * 1024 * 1024
    record = json.loads((DEFAULT_MODEL.parent / TRAINING_FILE).read_text())
    sources = {d["source"] for d in record["data"]}
    assert {"who-and-when", "tracertraj"} <= sources and record["trained_on_who_and_when"]
    ids = training_ids(DEFAULT_MODEL)
    assert ids is not None and {"hand-crafted/1", "algorithm-generated/1"} <= ids[0]
    assert len(ids[0]) >= record["trajectories"]  # runs whose gold is not an agent step are skipped
    rows = record[LOSO_KEY]["rows"]
    assert {r["left_out"] for r in rows} >= {
        "WW hand-crafted",
        "WW algorithm-generated",
        "TracerTraj",
    }
    assert all(r["trained_on"] and r["left_out"] not in r["trained_on"] for r in rows)
    card = (DEFAULT_MODEL.parent / "MODEL_CARD.md").read_text()
    assert "Leave-one-system-out" in card and "benchmarks/loso.py" in card
    # the card's table says what TRAINING.json measured, row by row (it cannot drift)
    for row in rows:
        low, high = row["top1_ci95"]
        line = next(
            (line for line in card.splitlines() if f"{row['n']}) | {row['top1']:.1f} [" in line),
            "",
        )
        assert f"{row['top1']:.1f} [{low:.1f}, {high:.1f}] | {row['top3']:.1f} |" in line, row
    assert f"leads with `{record['anchor']['rule']}`" in card
    model = load_model(DEFAULT_MODEL)
    assert model.temperature > 0 and model.anchor == record["anchor"]["rule"]
    assert list(model.features.families) == record["families"]


def test_fast_verdicts_are_consistent_evidenced_and_confident(who_and_when: Benchmark) -> None:
    tracer = create_tracer("fast")
    for _, trajectory in list(who_and_when.trajectories())[::9]:
        verdict = asyncio.run(tracer.attribute(trajectory))
        assert is_consistent(verdict, trajectory), verdict
        assert verdict.confidence is not None and 0 < verdict.confidence <= 1
        assert "Step Number" not in verdict.reason  # no prompt echoed
        assert trajectory.question[:60] not in verdict.reason
        assert verdict.evidence and verdict.evidence[0].step == verdict.step
        assert verdict.category and verdict.suggested_fix
        assert verdict.step not in verdict.candidates


def test_a_missing_or_foreign_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AgenTracerError, match="train one with `agentracer train-fast`"):
        create_tracer("fast", TracerSettings(options={"model": str(tmp_path / "none.json")}))
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"format": "something-else"}')
    with pytest.raises(AgenTracerError, match="not a fast-tracer model"):
        load_model(foreign)
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({"format": "agentracer-fast", "features": ["index"]}))
    with pytest.raises(AgenTracerError, match="retrain it"):
        load_model(stale)
    with pytest.raises(AgenTracerError, match="bad option for fast"):
        create_tracer("fast", TracerSettings(options={"depth": 3}))


def test_train_fast_writes_a_model_and_its_record(data_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agentracer.cli import app

    out = tmp_path / "model"
    result = CliRunner().invoke(
        app,
        ["train-fast", "--data", "tracertraj", "--data-dir", str(data_dir), "--out", str(out),
         "--trees", "20"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((out / TRAINING_FILE).read_text())
    assert record["trajectories"] == 127 and record["trained_on_who_and_when"] is False
    assert record["settings"]["n_estimators"] == 20
    tracer = create_tracer("fast", TracerSettings(options={"model": str(out)}))
    verdict = asyncio.run(tracer.attribute(EX))
    assert is_consistent(verdict, EX) and verdict.confidence is not None
    assert (out / MODEL_FILE).is_file()


def test_an_anchored_model_leads_with_the_rule_chosen_on_its_training_runs(tmp_path: Path) -> None:
    # In planted runs the failing step is followed by a tool error: the tool-error rule hits
    # every run, so it is the anchor chosen on them, and it leads the ranking.
    runs = [_planted(seed) for seed in range(30)]
    rule, top1 = choose_anchor(runs)
    assert rule == "tool-error-near-hand-off" and top1 == 1.0
    model = train(runs, TrainSettings(n_estimators=10), calibrate=False,
                  features=feature_set("base,transfer"), anchor=True)  # fmt: skip
    assert model.anchor == rule
    model.save(tmp_path / MODEL_FILE)
    again = load_model(tmp_path / MODEL_FILE)
    assert again.anchor == rule and again.features.families == ("base", "transfer")
    run = _planted(5000)
    assert again.ranking(run)[0] == rule_ranking(rule, run)[0] == run.label.step
    verdict = asyncio.run(FastTracer(again).attribute(run))
    assert verdict.step == run.label.step and f"`{rule}` rule" in verdict.reason
    assert verdict.confidence == 1.0  # the rule's top-1 on the training runs


def test_rule_rankings_cover_every_agent_step_once() -> None:
    from agentracer.tracers.fast.anchor import RULES

    agent_steps = [s.index for s in EX.agent_steps()]
    for rule in RULES:
        assert sorted(rule_ranking(rule, EX)) == agent_steps, rule
    assert rule_ranking("first-hand-off", EX)[0] == 1  # Planner, then Time_Expert at step 1
    with pytest.raises(AgenTracerError, match="unknown rule"):
        rule_ranking("nope", EX)


def test_eval_says_when_a_model_is_scored_on_its_training_runs(
    data_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from agentracer.cli import app
    from agentracer.cli.evaluation import trained_on_note

    shipped = create_tracer("fast")
    note = trained_on_note(shipped, ["tracertraj-x", "hand-crafted/1", "hand-crafted/2"])
    assert note is not None and note.startswith("2 of these 3 records were in this model's")
    assert "leave-one-system-out" in note and "MODEL_CARD.md" in note
    assert trained_on_note(shipped, ["someone-else/1"]) is None
    assert trained_on_note(FastTracer(shipped.model), ["hand-crafted/1"]) is None  # no record

    result = CliRunner().invoke(
        app,
        ["eval", "--bench", "who-and-when", "--subset", "algorithm-generated", "--data",
         str(data_dir), "--tracer", "fast", "--out", str(tmp_path / "run")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "126 of these 126 records were in this model's training data" in said
    assert "not held out" in said
