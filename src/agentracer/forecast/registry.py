"""Forecasters by name, as `agentracer forecast --tracer NAME` and `eval --forecast` pick them.

Own forecasters: `fast-hazard` (the fast model's per-step hazard and a threshold),
`llm-prefix` (an LLM auditor, embedded model by default), and the baselines `first-step`,
`never`, `random-hazard`. Any other name is a tracer of `agentracer tracers` read in prefix mode
(`TracerForecaster`: alarm when it blames the newest step).

The shipped `fast-hazard` threshold (`fast_threshold.json`) was chosen for the shipped model
on its training data (out-of-fold hazards, see `hazard.py`) with at most 10% false alarms on the
runs that must not alarm; `benchmarks/forecast_loso.py --write-threshold` recomputes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentracer.errors import AgenTracerError, UnknownTracerError
from agentracer.forecast.baselines import (
    FirstStepForecaster,
    NeverForecaster,
    RandomHazardForecaster,
)
from agentracer.forecast.hazard import HazardForecaster
from agentracer.forecast.online import Forecaster, TracerForecaster
from agentracer.tracers import TracerSettings, create_tracer
from agentracer.tracers.fast.tracer import DEFAULT_MODEL, cached_model
from agentracer.tracers.fast.training import model_path
from agentracer.tracers.registry import tracer_spec, tracer_specs

THRESHOLD_FILE = Path(__file__).parent / "fast_threshold.json"
# The geometric hazard of TracerTraj's labelled runs (`baselines.geometric_hazard`), stored
# beside the threshold so the baseline needs no data at run time.
DEFAULT_RANDOM_P = float(json.loads(THRESHOLD_FILE.read_text(encoding="utf-8"))["random_hazard_p"])


@dataclass(frozen=True)
class ForecasterSpec:
    name: str
    summary: str
    needs_model: bool = False


SPECS = {
    s.name: s
    for s in (
        ForecasterSpec("fast-hazard", "the fast model's score of step t on steps 0..t, over a "
                       "threshold (-o threshold=X, -o model=PATH; default: shipped, <= 10% false alarms)"),
        ForecasterSpec("llm-prefix", "an LLM auditor: 'alarm at step s' or 'continue' after each "
                       "step (embedded model by default)", needs_model=True),
        ForecasterSpec("first-step", "baseline: alarm at the first agent step"),
        ForecasterSpec("never", "baseline: never alarm (a post-hoc tracer's η of 100%)"),
        ForecasterSpec("random-hazard", "baseline: alarm at each step with probability p "
                       f"(-o p=X; default {DEFAULT_RANDOM_P}, TracerTraj's geometric hazard)"),
    )
}  # fmt: skip


def require_forecaster(name: str) -> None:
    """Fail on a name that is neither a forecaster nor a tracer, listing the forecasters first
    (a user of `forecast` asked for one; the tracers come second, as prefix mode)."""
    if name in SPECS:
        return
    try:
        tracer_spec(name)
    except UnknownTracerError:
        tracers = ", ".join(spec.name for spec in tracer_specs())
        raise UnknownTracerError(
            f"unknown forecaster {name!r}; forecasters: {', '.join(SPECS)}; or any tracer in "
            f"prefix mode: {tracers}"
        ) from None


def shipped_threshold() -> dict[str, Any]:
    """The shipped model's threshold and how it was chosen."""
    return dict(json.loads(THRESHOLD_FILE.read_text(encoding="utf-8")))


def _options(name: str, options: dict[str, Any], known: set[str]) -> None:
    unknown = set(options) - known
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise AgenTracerError(f"bad option for {name}: {sorted(unknown)[0]}; known: {allowed}")


def _number(name: str, key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AgenTracerError(f"bad option for {name}: {key}={value!r} is not a number") from None


def create_forecaster(
    name: str, settings: TracerSettings | None = None, *, with_ground_truth: bool = False
) -> Forecaster:
    """Build the forecaster `name`; any tracer name gives that tracer in prefix mode."""
    require_forecaster(name)
    settings = settings or TracerSettings()
    options = dict(settings.options)
    if name == "fast-hazard":
        _options(name, options, {"threshold", "model"})
        path = model_path(Path(str(options.get("model", DEFAULT_MODEL))).expanduser())
        if "threshold" in options:
            threshold = _number(name, "threshold", options["threshold"])
        elif "model" in options:
            raise AgenTracerError(
                "fast-hazard with your own -o model=PATH needs -o threshold=X chosen on that "
                "model's training data (the shipped threshold belongs to the shipped model)"
            )
        else:
            threshold = float(shipped_threshold()["threshold"])
        return HazardForecaster(cached_model(str(path)), threshold)
    if name == "llm-prefix":
        from agentracer.forecast.llm import LLMForecaster
        from agentracer.tracers.llm_tracer import llm_factory

        tracer = llm_factory(LLMForecaster)(settings)
        assert isinstance(tracer, LLMForecaster)
        tracer.with_ground_truth = with_ground_truth
        return tracer
    if name in ("first-step", "never"):
        _options(name, options, set())
        return FirstStepForecaster() if name == "first-step" else NeverForecaster()
    if name == "random-hazard":
        _options(name, options, {"p"})
        p = _number(name, "p", options.get("p", DEFAULT_RANDOM_P))
        if not 0 <= p <= 1:
            raise AgenTracerError(f"bad option for random-hazard: p={p} is not in [0, 1]")
        return RandomHazardForecaster(p, seed=settings.seed)
    return TracerForecaster(create_tracer(name, settings), with_ground_truth=with_ground_truth)


async def close(forecaster: Forecaster) -> None:
    """Release what a forecaster holds (a model connection), whatever its kind."""
    if isinstance(forecaster, TracerForecaster):
        await forecaster.tracer.aclose()
    elif hasattr(forecaster, "aclose"):
        await forecaster.aclose()
