"""Language-model surprise features, their cache, and the training-free `surprise` tracer."""

import asyncio
from pathlib import Path

import numpy
import pytest

from agentracer.errors import AgenTracerError
from agentracer.tracers import TracerSettings, create_tracer
from agentracer.tracers.fast.features import step_features
from agentracer.tracers.fast.signal_cache import SignalCache, signal_key
from agentracer.tracers.fast.surprise import (
    SURPRISE_FEATURES,
    SurpriseSettings,
    features_from_arrays,
    run_surprise,
    step_statistics,
    surprise_features,
)
from agentracer.tracers.structure import is_consistent
from agentracer.tracers.surprise import SurpriseTracer, peak_quote, rule_scores
from agentracer.trajectory import Step, StepKind, Trajectory

pytest.importorskip("gguf")


def _run(contents: list[tuple[str, StepKind, str]], question: str = "Add 2 and 3.") -> Trajectory:
    steps = [
        Step(index=i, agent=agent, speaker=agent, kind=kind, content=text)
        for i, (agent, kind, text) in enumerate(contents)
    ]
    agents = list(dict.fromkeys(s.agent for s in steps if s.kind is StepKind.AGENT))
    return Trajectory(id="t", question=question, steps=steps, agents=agents)


RUN = _run(
    [
        ("Planner", StepKind.AGENT, "We need to add 2 and 3.\nThe sum is 5."),
        ("Coder", StepKind.AGENT, "print(2 + 3)"),
        ("terminal", StepKind.TOOL, "5"),
        ("Coder", StepKind.AGENT, "The answer is 5."),
    ]
)


def _f(row: list[float], name: str) -> float:
    return row[SURPRISE_FEATURES.index(name)]


def test_step_statistics_exact() -> None:
    values = numpy.asarray([numpy.nan, 0.1, 7.0, 2.0, 0.3, 1.0, 3.0, 4.0], dtype=numpy.float32)
    mean, most, top5, opening, easy, hard = step_statistics(values)
    assert mean == pytest.approx(17.4 / 7)
    assert most == pytest.approx(7.0)
    assert top5 == pytest.approx((7 + 4 + 3 + 2 + 1) / 5)
    assert opening == pytest.approx(17.4 / 7)  # fewer than 8 tokens: all of them
    assert easy == pytest.approx(2 / 7) and hard == pytest.approx(1 / 7)
    assert step_statistics(numpy.asarray([numpy.nan], dtype=numpy.float32)) == (0,) * 6


def test_features_from_arrays_normalise_within_the_run() -> None:
    # step means: 1, 3, 2 (tool), 5
    arrays = {
        "nll": numpy.asarray([1, 1, 3, 3, 2, 5], dtype=numpy.float32),
        "offsets": numpy.asarray([0, 2, 4, 5, 6]),
        "peak_char": numpy.asarray([0, 0, 0, 0]),
    }
    rows = features_from_arrays(RUN, arrays)
    assert len(rows) == 3 and all(len(r) == len(SURPRISE_FEATURES) for r in rows)
    means = [_f(r, "lm_mean") for r in rows]
    assert means == [1, 3, 5]
    spread = numpy.std([1, 3, 5])
    assert [_f(r, "lm_mean_z") for r in rows] == pytest.approx([-2 / spread, 0, 2 / spread])
    assert [_f(r, "lm_mean_rank") for r in rows] == [0.0, 0.5, 1.0]
    assert [_f(r, "lm_jump_prev") for r in rows] == [0.0, 2.0, 3.0]  # 5 - tool step's 2
    assert [_f(r, "lm_jump_own") for r in rows] == [0.0, 0.0, 2.0]  # Coder: 5 - 3
    # what follows: the next two steps' tokens
    assert [_f(r, "lm_next_mean") for r in rows] == pytest.approx([8 / 3, 3.5, 5.0])
    assert _f(rows[0], "lm_after_minus_before") == pytest.approx((3 + 2 + 5) / 3 - 1)
    assert rule_scores("mean", rows) == [_f(r, "lm_mean_z") for r in rows]


def test_peak_quote_is_the_verbatim_line_of_the_peak() -> None:
    text = "first line\nthe second line has it\nthird"
    assert peak_quote(text, text.index("has")) == "the second line has it"
    long = "x" * 500 + "PEAK" + "y" * 500
    quoted = peak_quote(long, 500)
    assert "PEAK" in quoted and quoted in long and len(quoted) == 160
    assert peak_quote("", 3) == ""


def test_the_cache_key_follows_text_model_and_settings(tmp_path: Path) -> None:
    settings = {"step_tokens": 32}
    key = signal_key("k", RUN, "sha", settings)
    assert key == signal_key("k", RUN, "sha", dict(settings))
    changed = RUN.model_copy(deep=True)
    changed.steps[1].content = "print(2 + 4)"
    assert signal_key("k", changed, "sha", settings) != key
    assert signal_key("k", RUN, "other", settings) != key
    assert signal_key("k", RUN, "sha", {"step_tokens": 48}) != key
    cache = SignalCache("k", tmp_path)
    assert cache.get(key) is None
    cache.put(key, {"a": numpy.arange(3)})
    assert cache.get(key)["a"].tolist() == [0, 1, 2]
    torn = next(tmp_path.rglob("*.npz"))
    torn.write_bytes(torn.read_bytes()[:20])
    assert cache.get(key) is None  # a torn entry is computed again, never an error


def test_real_surprise_rows_align_with_step_features_and_are_cached(
    smollm2_path: Path, tmp_path: Path, who_and_when
) -> None:
    run = next(t for s, t in who_and_when.trajectories() if s == "algorithm-generated")
    cache = SignalCache("lm", tmp_path)
    settings = SurpriseSettings(step_tokens=16)
    rows = surprise_features(run, settings, cache)
    indices, base = step_features(run)
    assert len(rows) == len(base) == len(indices)
    assert all(len(r) == len(SURPRISE_FEATURES) and numpy.isfinite(r).all() for r in rows)
    arrays = run_surprise(run, settings, cache)
    assert len(arrays["offsets"]) == len(run.steps) + 1
    assert (numpy.diff(arrays["offsets"]) <= 16).all()
    assert len(list(tmp_path.rglob("*.npz"))) == 1
    # the second call reads the cache: same values, no second entry
    assert surprise_features(run, settings, cache) == rows
    assert len(list(tmp_path.rglob("*.npz"))) == 1


def test_the_surprise_tracer_gives_an_evidenced_consistent_verdict(
    smollm2_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTRACER_CACHE_DIR", str(tmp_path))
    run = _run(
        [
            ("Planner", StepKind.AGENT, "We need to add 2 and 3. I will ask the coder."),
            ("Coder", StepKind.AGENT, "print(2 + 3)"),
            ("terminal", StepKind.TOOL, "5"),
            ("Coder", StepKind.AGENT, "Zebra quantum marmalade: the answer is 17 bicycles."),
            ("Planner", StepKind.AGENT, "The final answer is 17."),
        ]
    )
    tracer = SurpriseTracer("step", SurpriseSettings(step_tokens=24))
    verdict = asyncio.run(tracer.attribute(run))
    assert verdict.step == 3 and verdict.agent == "Coder"  # the absurd step
    assert is_consistent(verdict, run)
    blamed = [e for e in verdict.evidence if e.role == "blamed"]
    assert blamed and blamed[0].quote in run.steps[3].content
    assert verdict.reason.startswith("the most surprising of 4 agent steps")
    assert next(i for i, _ in tracer.ranked(run)) == 3


def test_the_tracer_is_registered_and_refuses_bad_options() -> None:
    assert isinstance(create_tracer("surprise"), SurpriseTracer)
    with pytest.raises(AgenTracerError, match="known: model, rule, step_tokens"):
        create_tracer("surprise", TracerSettings(options={"temperature": 1}))
    with pytest.raises(AgenTracerError, match="unknown surprise rule 'loud'"):
        create_tracer("surprise", TracerSettings(options={"rule": "loud"}))
    with pytest.raises(AgenTracerError, match="from 1 to 4096"):
        create_tracer("surprise", TracerSettings(options={"step_tokens": "many"}))
