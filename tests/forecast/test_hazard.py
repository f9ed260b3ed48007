"""The fast tracer as a forecaster: hazards on prefixes, the threshold, the shipped choice."""

from __future__ import annotations

import asyncio
import json
import math

import pytest

from agentracer.forecast.hazard import (
    HazardForecaster,
    choose_threshold,
    cut_before_label,
    first_alarm,
    hazards,
    prefix_rows,
)
from agentracer.forecast.online import forecast, prefix
from agentracer.forecast.registry import create_forecaster, shipped_threshold
from agentracer.tracers import TracerSettings
from agentracer.tracers.fast.features import step_features
from agentracer.tracers.fast.tracer import DEFAULT_MODEL, cached_model
from agentracer.trajectory import Label, Step, StepKind, Trajectory


def run(n: int) -> Trajectory:
    steps = [Step(index=0, agent="user", speaker="user", kind=StepKind.USER, content="add 2+2")]
    steps += [
        Step(index=i, agent=f"A{i % 2}", speaker=f"A{i % 2}", kind=StepKind.AGENT,
             content=f"step {i}: the sum is {i + 3}")
        for i in range(1, n)
    ]  # fmt: skip
    return Trajectory(id=f"run{n}", steps=steps, agents=["A0", "A1"],
                      question="add 2+2", label=Label(agent="A1", step=3))  # fmt: skip


def test_choose_threshold_maximises_exact_accuracy_and_prefers_fewer_alarms() -> None:
    labelled = [
        ([(1, 0.1), (2, 0.9), (3, 0.2)], 2),
        ([(1, 0.5), (2, 0.3), (3, 0.95)], 3),
        ([(1, 0.8)], 1),
    ]
    choice = choose_threshold(labelled)
    # 0.8 hits runs 1 and 3 (run 2 alarms at step 3 via 0.95: also a hit)
    assert choice.threshold == pytest.approx(0.8) and choice.accuracy == pytest.approx(1.0)
    assert first_alarm(labelled[0][0], choice.threshold) == 2
    never = choose_threshold([([(1, 0.5)], 4)])
    assert never.threshold == math.inf and first_alarm([(1, 1e9)], never.threshold) is None


def test_hazards_read_only_the_prefix() -> None:
    trajectory = run(8)
    model = cached_model(str(DEFAULT_MODEL))
    sequence = hazards(model, trajectory)
    assert [t for t, _ in sequence] == list(range(1, 8))
    # the hazard of step 3 is the same whether or not steps 4.. exist
    assert hazards(model, prefix(trajectory, 3))[-1] == pytest.approx(sequence[2])
    steps, rows = prefix_rows(trajectory)
    assert steps == list(range(1, 8))
    indices, full = step_features(prefix(trajectory, 5))
    assert list(rows[4]) == full[indices.index(5)]


def test_the_forecaster_alarms_where_the_sequence_first_passes_the_threshold() -> None:
    trajectory = run(8)
    model = cached_model(str(DEFAULT_MODEL))
    sequence = hazards(model, trajectory)
    threshold = sorted(h for _, h in sequence)[3]  # some step passes it, not all do
    expected = first_alarm(sequence, threshold)
    result = asyncio.run(forecast(trajectory, HazardForecaster(model, threshold)))
    assert result.alarm == expected and result.read == expected + 1
    assert asyncio.run(forecast(trajectory, HazardForecaster(model, math.inf))).alarm is None


def test_the_shipped_threshold_bounds_false_alarms_and_fits_the_shipped_model() -> None:
    chosen = shipped_threshold()
    assert "at most 10% false alarms" in chosen["objective"] and math.isfinite(chosen["threshold"])
    assert chosen["out_of_fold_false_alarms"] <= 0.10
    record = json.loads((DEFAULT_MODEL.parent / "TRAINING.json").read_text())
    assert chosen["families"] == record["families"]
    assert chosen["settings"] == record["settings"]
    forecaster = create_forecaster("fast-hazard")
    assert isinstance(forecaster, HazardForecaster)
    assert forecaster.threshold == chosen["threshold"]
    custom = create_forecaster("fast-hazard", TracerSettings(options={"threshold": 0.5}))
    assert isinstance(custom, HazardForecaster) and custom.threshold == 0.5


def test_a_false_alarm_bound_raises_the_threshold() -> None:
    # Run 3 reaches 0.55 before its label: the most accurate threshold (0.5, two hits) alarms
    # early on its cut copy; with at most 10% false alarms the choice moves up to 0.9.
    labelled = [
        ([(1, 0.5), (2, 0.6)], 1),
        ([(1, 0.4), (2, 0.9)], 2),
        ([(1, 0.55), (2, 0.1), (3, 0.2)], 3),
    ]
    negatives = cut_before_label(labelled)
    assert negatives == [[(1, 0.4)], [(1, 0.55), (2, 0.1)]]  # label 1 has no cut copy
    free = choose_threshold(labelled)
    assert free.threshold == pytest.approx(0.5) and free.accuracy == pytest.approx(2 / 3)
    assert free.false_alarms is None
    bounded = choose_threshold(labelled, negatives=negatives, max_false_alarms=0.1)
    assert bounded.threshold == pytest.approx(0.9) and bounded.accuracy == pytest.approx(1 / 3)
    assert bounded.false_alarms == 0.0
