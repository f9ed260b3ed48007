"""fast-hazard cross-validated on the benchmark it is scored on: folds grouped by question."""

from __future__ import annotations

import asyncio

import pytest

from agentracer.errors import AgenTracerError
from agentracer.forecast.crossval import CrossValidatedHazard, grouped_folds, question_of
from agentracer.forecast.metrics import no_alarm_yet
from agentracer.forecast.online import forecast
from agentracer.formats import Benchmark
from tests.forecast.test_online import run


def test_folds_never_split_a_question() -> None:
    runs = [run(5 + i % 3).model_copy(update={"id": f"r{i}", "metadata": {"question_ID": str(i % 4)}})
            for i in range(12)]  # fmt: skip
    folds = grouped_folds(runs, 3, seed=1)
    assert sorted(p for fold in folds for p in fold) == list(range(12))
    for fold in folds:
        questions = {question_of(runs[p]) for p in fold}
        others = {question_of(runs[p]) for f in folds if f is not fold for p in f}
        assert not questions & others
    with pytest.raises(ValueError, match="two folds"):
        CrossValidatedHazard(runs, folds=1)


def test_each_run_is_forecast_by_the_model_of_the_other_folds(who_and_when: Benchmark) -> None:
    labelled = [t for s, t in who_and_when.trajectories() if s == "algorithm-generated"][:30]
    cv = CrossValidatedHazard(labelled, folds=2, seed=0)
    target = labelled[0]
    result = asyncio.run(forecast(target, cv))
    fold = cv.fold_of[target.id]
    assert list(cv.forecasters) == [fold]  # only the fold needed was trained
    training = [labelled[i] for f, ps in enumerate(cv.folds) if f != fold for i in ps]
    assert question_of(target) not in {question_of(t) for t in training}
    assert cv.choices[fold].runs == len(training)  # the threshold saw the training folds only
    assert result.alarm is None or result.alarm < result.steps
    cut = no_alarm_yet(target)
    if cut is not None:  # its cut copy is read by the same fold's model
        asyncio.run(forecast(cut, cv))
        assert list(cv.forecasters) == [fold]
    stranger = run(6).model_copy(update={"id": "not-dealt"})
    with pytest.raises(AgenTracerError, match="not one of the labelled runs"):
        asyncio.run(forecast(stranger, cv))
