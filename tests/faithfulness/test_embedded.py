"""The economy and Risk Drop against the real embedded model (small: 2 households, 1 month)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentracer.faithfulness.risk_drop import evaluate
from agentracer.faithfulness.scorers import make_scorer
from agentracer.faithfulness.subject import Subject
from agentracer.llm.embedded import EmbeddedBackend
from agentracer.replay.session import record
from agentracer.replay.upstream import EmbeddedUpstream
from tests.systems.test_simulations import simulation


@pytest.mark.slow
def test_risk_drop_on_the_economy_with_the_embedded_model(
    embedded: EmbeddedBackend, tmp_path: Path
) -> None:
    upstream = EmbeddedUpstream(embedded)
    program = simulation("economy", "--agents", "2", "--months", "1")
    program.timeout = 1800  # generous: a loaded 2-core machine runs the model ~100x slower
    recording = record(program, upstream, tmp_path / "rec")
    assert recording.outcome.status == "success", recording.outcome
    for call in recording.calls():  # the schema reaches the model: every action is usable
        action = json.loads(call.content())
        assert set(action) == {"work", "spend"}
        assert all(0 <= v <= 100 for v in action.values())
    subject = Subject(tmp_path / "rec", upstream, tmp_path / "work")
    scorers = [make_scorer("leave-one-out")]
    report = evaluate(subject, scorers, [1], k=1, variants=["deletion"])
    assert report.actions == 2 and report.risk_before > 0
    loo = report.rankings[0]
    assert loo.replays == 2 and sorted(loo.order) == [0, 1]
    assert all(len(p.risks) == 1 for p in report.points)
    # Deleting an action replays the calls after it live.
    replays = sorted((tmp_path / "work").glob("loo-0-*"))
    assert replays, list((tmp_path / "work").iterdir())


@pytest.mark.slow
def test_the_social_network_moves_under_the_embedded_model(
    embedded: EmbeddedBackend, tmp_path: Path
) -> None:
    """The network once froze (the model copied its own belief back); now beliefs move and
    deleting the first post changes the final risk."""
    upstream = EmbeddedUpstream(embedded)
    program = simulation("social_network", "--agents", "3", "--rounds", "2")
    program.timeout = 1800
    recording = record(program, upstream, tmp_path / "rec")
    assert recording.outcome.status in ("success", "failure"), recording.outcome
    rounds = [
        line.split(": ", 1)[1]
        for line in (tmp_path / "rec" / "mas.stdout").read_text().splitlines()
        if line.startswith("round ")
    ]
    assert len(rounds) == 2 and rounds[0] != rounds[1]  # beliefs moved between rounds
    subject = Subject(tmp_path / "rec", upstream, tmp_path / "work")
    deleted = subject.replay({0: subject.neutral_action}, "delete-0", live=True)
    assert deleted.risk != subject.risk_before
