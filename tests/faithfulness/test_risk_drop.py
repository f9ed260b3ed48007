"""Risk Drop on the simulations, against the deterministic scripted model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentracer.errors import AgenTracerError
from agentracer.faithfulness.edits import SimulationDivergedError, UnknownActionError
from agentracer.faithfulness.risk_drop import deletion, evaluate, insertion
from agentracer.faithfulness.scorers import Ranking, Scorer, make_scorer
from agentracer.faithfulness.subject import NeutralActionError, Subject, neutral_action_for
from agentracer.replay.recording import load, save
from agentracer.replay.session import record
from agentracer.systems.simulation import read_risk
from tests.systems.scripted import ScriptedSimUpstream
from tests.systems.test_simulations import simulation


@pytest.fixture(scope="module")
def economy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("economy") / "rec"
    program = simulation("economy", "--agents", "2", "--months", "3")
    record(program, ScriptedSimUpstream(), directory)
    return directory


def subject(directory: Path, tmp_path: Path, **kw: object) -> Subject:
    return Subject(directory, ScriptedSimUpstream(), tmp_path / "work", **kw)  # type: ignore[arg-type]


def test_deleting_nothing_reproduces_the_run_and_deleting_changes_it(
    economy_run: Path, tmp_path: Path
) -> None:
    s = subject(economy_run, tmp_path)
    assert s.actions == list(range(6))
    assert s.neutral_action == "PASS"
    same = s.replay({}, "same", live=True)
    assert same.risk == read_risk(economy_run)
    assert all(c.origin == "recorded" for c in same.recording.calls())
    edited = s.replay({2: "PASS"}, "edit", live=True)
    origins = [c.origin for c in edited.recording.calls()]
    assert origins == ["recorded", "recorded", "substituted", "live", "live", "live"]
    assert s.replays == 2


def test_insertion_with_every_text_kept_is_the_original_risk(
    economy_run: Path, tmp_path: Path
) -> None:
    s = subject(economy_run, tmp_path)
    everything = Ranking(scorer="all", order=s.actions)
    point = insertion(s, everything, 6)
    assert point.score == pytest.approx(1.0)
    upstream = s.upstream
    assert isinstance(upstream, ScriptedSimUpstream) and upstream.calls == []  # no model needed


def test_every_scorer_ranks_each_action_once_and_reports_its_cost(
    economy_run: Path, tmp_path: Path
) -> None:
    s = subject(economy_run, tmp_path)
    scorers = [
        make_scorer("random", seed=1),
        make_scorer("leave-one-out", k=1),
        make_scorer("shapley", permutations=2, seed=0),
        make_scorer("tracer:last-agent-step"),
    ]
    report = evaluate(s, scorers, [1], k=2)
    by_name = {r.scorer: r for r in report.rankings}
    for ranking in report.rankings:
        assert sorted(ranking.order) == s.actions
    assert by_name["leave-one-out"].replays == 6
    assert by_name["shapley"].replays <= 2 * 6 + 1
    assert by_name["random"].replays == 0
    # Shapley values sum to v(all) - v(none) in every permutation (efficiency).
    everything = read_risk(economy_run)
    nothing = s.replay(dict.fromkeys(s.actions, "PASS"), "none", live=False).risk
    assert sum(by_name["shapley"].scores.values()) == pytest.approx(everything - nothing)
    # The last agent step blamed first.
    assert by_name["tracer:last-agent-step"].order[0] == 5
    assert len(report.points) == 4 * 2
    deletions = [p for p in report.points if p.variant == "deletion"]
    assert all(len(p.risks) == 2 for p in deletions)
    for p in deletions:
        assert p.score == pytest.approx((report.risk_before - p.mean) / report.risk_before)
    # The leave-one-out top action, deleted alone, is its best single deletion.
    loo = by_name["leave-one-out"]
    top = next(p for p in deletions if p.scorer == "leave-one-out" and p.n == 1)
    assert top.score == pytest.approx(loo.scores[loo.order[0]] / report.risk_before)
    json.loads(report.model_dump_json())


def test_a_ranking_naming_actions_outside_the_run_is_refused(
    economy_run: Path, tmp_path: Path
) -> None:
    s = subject(economy_run, tmp_path)
    with pytest.raises(UnknownActionError, match=r"actions \[9\]"):
        s.validate([0, 9], "mine")
    with pytest.raises(UnknownActionError, match="twice"):
        s.validate([0, 0], "mine")
    with pytest.raises(UnknownActionError, match="not model calls"):
        deletion(s, Ranking(scorer="bad", order=[42]), 1, 1)


def test_a_simulation_that_diverges_on_replay_is_a_named_error(
    economy_run: Path, tmp_path: Path
) -> None:
    # A recording whose first request no longer matches what the program sends.
    copy = tmp_path / "changed"
    recording = load(economy_run)
    recording.events[0].request["messages"][-1]["content"] += " (edited)"  # type: ignore[union-attr]
    save(recording, copy)
    (copy / "mas.stdout").write_text((economy_run / "mas.stdout").read_text())
    s = subject(copy, tmp_path)
    with pytest.raises(SimulationDivergedError, match="diverged"):
        s.replay({3: "PASS"}, "x", live=True)


def test_unknown_programs_need_a_neutral_action(economy_run: Path) -> None:
    recording = load(economy_run)
    recording.command = ["python", "my_sim.py"]
    with pytest.raises(NeutralActionError, match="--neutral"):
        neutral_action_for(recording)
    assert neutral_action_for(recording, "SKIP") == "SKIP"
    with pytest.raises(AgenTracerError, match="unknown scorer"):
        make_scorer("oracle")


class _Outside(Scorer):
    name = "outside"

    def rank(self, subject: Subject) -> Ranking:
        return Ranking(scorer=self.name, order=[*subject.actions, 99])


def test_evaluate_refuses_a_scorer_that_ranks_actions_outside_the_run(
    economy_run: Path, tmp_path: Path
) -> None:
    s = subject(economy_run, tmp_path)
    with pytest.raises(UnknownActionError, match=r"scorer 'outside' ranked actions \[99\]"):
        evaluate(s, [_Outside()], [1])
    assert s.replays == 0  # refused before any replay


def test_deleting_market_orders_changes_the_risk(tmp_path: Path) -> None:
    directory = tmp_path / "market"
    record(simulation("market", "--agents", "3", "--rounds", "3"), ScriptedSimUpstream(), directory)
    s = subject(directory, tmp_path)
    assert s.neutral_action == "PASS" and len(s.actions) == 9
    # Every order neutral: no flow, the index never moves, the risk is 0.
    assert s.replay(dict.fromkeys(s.actions, "PASS"), "none", live=False).risk == 0
    report = evaluate(s, [make_scorer("leave-one-out")], [1, 3], variants=["deletion"])
    loo = report.rankings[0]
    assert any(score != 0 for score in loo.scores.values())
    best = next(p for p in report.points if p.n == 1)
    assert best.score == pytest.approx(loo.scores[loo.order[0]] / report.risk_before)


def test_frozen_leave_one_out_asks_no_model(economy_run: Path, tmp_path: Path) -> None:
    s = subject(economy_run, tmp_path)
    ranking = make_scorer("leave-one-out-frozen").rank(s)
    assert sorted(ranking.order) == s.actions and ranking.replays == 6
    upstream = s.upstream
    assert isinstance(upstream, ScriptedSimUpstream) and upstream.calls == []
    texts = s.recorded_texts()
    alone = s.replay({**texts, 4: "PASS"}, "one", live=False).risk
    assert ranking.scores[4] == pytest.approx(s.risk_before - alone)
