"""The model-free forecasters and the forecaster registry."""

from __future__ import annotations

import asyncio

import pytest

from agentracer.errors import AgenTracerError
from agentracer.forecast.baselines import (
    FirstStepForecaster,
    NeverForecaster,
    RandomHazardForecaster,
    geometric_hazard,
)
from agentracer.forecast.metrics import no_alarm_yet
from agentracer.forecast.online import TracerForecaster, forecast
from agentracer.forecast.registry import create_forecaster
from agentracer.tracers import TracerSettings
from tests.forecast.test_online import run


def test_first_step_and_never() -> None:
    assert asyncio.run(forecast(run(6), FirstStepForecaster())).alarm == 1
    never = asyncio.run(forecast(run(6), NeverForecaster()))
    assert never.alarm is None and never.eta == 1.0


def test_the_random_hazard_is_reproducible_and_agrees_with_its_cut_copy() -> None:
    forecaster = RandomHazardForecaster(0.3, seed=4)
    long = run(40, label=20)
    first = asyncio.run(forecast(long, forecaster))
    assert asyncio.run(forecast(long, forecaster)) == first
    cut = no_alarm_yet(long)
    assert cut is not None
    early = asyncio.run(forecast(cut, forecaster))
    # the cut copy sees the same draws: it alarms exactly when the full run alarmed before 20
    assert (early.alarm is not None) == (first.alarm is not None and first.alarm < 20)
    assert asyncio.run(forecast(long, RandomHazardForecaster(0.0))).alarm is None
    assert asyncio.run(forecast(long, RandomHazardForecaster(1.0))).alarm == 1


def test_geometric_hazard_counts_agent_steps_up_to_the_label() -> None:
    # run(10, label=3): agent steps 1, 2, 3 are read up to the label -> 1 run / 3 steps
    assert geometric_hazard([run(10, label=3)]) == pytest.approx(1 / 3)
    assert geometric_hazard([run(10, label=None)]) == 0.0


def test_the_registry_builds_forecasters_and_refuses_bad_options() -> None:
    assert isinstance(create_forecaster("never"), NeverForecaster)
    assert isinstance(create_forecaster("first-agent-step"), TracerForecaster)
    random = create_forecaster("random-hazard", TracerSettings(options={"p": 0.5}))
    assert isinstance(random, RandomHazardForecaster) and random.p == 0.5
    with pytest.raises(AgenTracerError, match="not in"):
        create_forecaster("random-hazard", TracerSettings(options={"p": 2}))
    with pytest.raises(AgenTracerError, match="known: model, threshold"):
        create_forecaster("fast-hazard", TracerSettings(options={"bogus": 1}))
    with pytest.raises(AgenTracerError, match="needs -o threshold"):
        create_forecaster("fast-hazard", TracerSettings(options={"model": "x.json"}))
    with pytest.raises(
        AgenTracerError, match=r"unknown forecaster 'no-such-thing'; forecasters: fast-hazard"
    ):
        create_forecaster("no-such-thing")
