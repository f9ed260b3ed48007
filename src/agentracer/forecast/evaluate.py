"""`agentracer eval --forecast`: a forecaster over a benchmark, in a run directory that resumes.

The run directory holds `forecast-config.json` (what was run), `forecast-results.jsonl` (one
line per case, flushed as soon as it is forecast), `forecast-summary.json` and `forecast.md`.
Running again with the same directory forecasts only the cases not yet done. The file names
differ from an attribution run's, so both can share one directory.

Cases (see `metrics.forecast_cases`): each labelled failed run (an alarm is expected at its
label), the same run cut before its label and each successful run (no alarm expected). A run
too short to forecast (one step) is recorded as such and counted, not dropped. The model-free
baselines (`first-step`, `never`, `random-hazard`) are scored on the same cases.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentracer.errors import AgenTracerError, RunDirectoryError
from agentracer.evaluation.lock import RunLock
from agentracer.evaluation.runner import read_lines, write_atomically
from agentracer.forecast.baselines import (
    FirstStepForecaster,
    NeverForecaster,
    RandomHazardForecaster,
)
from agentracer.forecast.metrics import (
    CaseKind,
    ForecastCase,
    ForecastSummary,
    forecast_cases,
    kind_of,
    summarize,
)
from agentracer.forecast.online import Forecaster, ForecastResult, TooShortError, forecast
from agentracer.forecast.registry import DEFAULT_RANDOM_P
from agentracer.tracers.base import TracerSettings
from agentracer.trajectory import Trajectory

CONFIG_FILE = "forecast-config.json"
RESULTS_FILE = "forecast-results.jsonl"
SUMMARY_FILE = "forecast-summary.json"
TABLE_FILE = "forecast.md"


class ForecastRunConfig(BaseModel):
    """What a forecasting run computes; the fields in `IDENTITY` must match to resume."""

    model_config = ConfigDict(extra="forbid")

    bench: str
    subsets: list[str]
    forecaster: str
    settings: TracerSettings = Field(default_factory=TracerSettings)
    with_ground_truth: bool = False
    tolerances: list[int] = Field(default_factory=lambda: [1, 3])
    cv: int | None = Field(default=None, description="fast-hazard: k-fold CV by question")
    limit: int | None = None
    random_p: float = DEFAULT_RANDOM_P
    data: str | None = None

    IDENTITY: ClassVar[tuple[str, ...]] = (
        "bench", "forecaster", "settings", "with_ground_truth", "cv", "limit",
    )  # fmt: skip

    def identity(self) -> dict[str, Any]:
        dumped = self.model_dump(mode="json", exclude={"settings": {"connection"}})
        return {key: dumped[key] for key in self.IDENTITY}


class ForecastRecord(BaseModel):
    """One line of `forecast-results.jsonl`."""

    id: str
    subset: str
    kind: CaseKind
    label: int | None = None
    result: ForecastResult | None = None
    error: str | None = Field(default=None, description="why there is no result (too short)")


def select(
    pairs: Sequence[tuple[str, Trajectory]], limit: int | None
) -> list[tuple[str, Trajectory]]:
    """The cases of a benchmark (at most `limit` labelled failures, in benchmark order, with
    their cut copies), each with its subset."""
    subset_of = {t.id: s for s, t in pairs}
    chosen = [t for _, t in pairs]
    if limit is not None:
        failed = [t for t in chosen if kind_of(t) == "failed"][:limit]
        chosen = failed + [t for t in chosen if kind_of(t) == "success"]
    return [(subset_of[t.id.split("#")[0]], t) for t in forecast_cases(chosen)]


def _open(out_dir: Path, config: ForecastRunConfig) -> dict[str, ForecastRecord]:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / CONFIG_FILE
    if path.exists():
        try:
            previous = ForecastRunConfig.model_validate_json(path.read_bytes())
        except (ValidationError, ValueError):
            previous = None  # torn by a kill: the results lines still say whose they are
        if previous is not None and previous.identity() != config.identity():
            differing = [k for k in config.IDENTITY
                         if previous.identity()[k] != config.identity()[k]]  # fmt: skip
            raise RunDirectoryError(
                f"holds a forecasting run with a different {', '.join(differing)}; use another "
                "--out to start a new run",
                path=out_dir,
            )
    write_atomically(path, config.model_dump_json(indent=2))
    return read_records(out_dir / RESULTS_FILE)


def read_records(path: Path) -> dict[str, ForecastRecord]:
    """Finished records by case id; a line torn by a kill is dropped (and only that line)."""
    return read_lines(path, ForecastRecord)


async def forecast_case(
    forecaster: Forecaster, subset: str, trajectory: Trajectory
) -> ForecastRecord:
    """Forecast one case; a one-step run is recorded as too short."""
    kind = kind_of(trajectory)
    assert kind is not None
    label = trajectory.label.step if kind == "failed" and trajectory.label else None
    try:
        result = await forecast(trajectory, forecaster)
    except TooShortError as error:
        return ForecastRecord(id=trajectory.id, subset=subset, kind=kind, label=label,
                              error=error.one_line())  # fmt: skip
    return ForecastRecord(id=trajectory.id, subset=subset, kind=kind, label=label, result=result)


async def run_forecasts(
    cases: Sequence[tuple[str, Trajectory]],
    forecaster: Forecaster,
    config: ForecastRunConfig,
    out_dir: Path | None,
    on_result: Callable[[ForecastRecord | None], None] | None = None,
) -> tuple[list[ForecastRecord], int, list[dict[str, str]]]:
    """Forecast every case not yet finished in `out_dir` (one at a time: a forecaster may keep
    state per run; `out_dir` None: nothing is written). Returns (all records in case order, how
    many were resumed, failures)."""
    if out_dir is None:
        finished: dict[str, ForecastRecord] = {}
        failed = await _forecast_all(cases, forecaster, finished, None, on_result)
        return [finished[t.id] for _, t in cases if t.id in finished], 0, failed
    with RunLock(out_dir):
        finished = _open(out_dir, config)
        resumed = sum(1 for _, t in cases if t.id in finished)
        with (out_dir / RESULTS_FILE).open("a", encoding="utf-8") as handle:
            failed = await _forecast_all(cases, forecaster, finished, handle, on_result)
    return [finished[t.id] for _, t in cases if t.id in finished], resumed, failed


async def _forecast_all(
    cases: Sequence[tuple[str, Trajectory]],
    forecaster: Forecaster,
    finished: dict[str, ForecastRecord],
    handle: TextIO | None,
    on_result: Callable[[ForecastRecord | None], None] | None,
) -> list[dict[str, str]]:
    failed: list[dict[str, str]] = []
    for subset, trajectory in cases:
        if trajectory.id in finished:
            continue
        try:
            record = await forecast_case(forecaster, subset, trajectory)
        except Exception as error:  # one case's failure is that case's alone
            reason = error.one_line() if isinstance(error, AgenTracerError) else (
                f"{type(error).__name__}: {error}")  # fmt: skip
            failed.append({"id": trajectory.id, "error": reason})
            if on_result:
                on_result(None)
            continue
        if handle is not None:
            handle.write(record.model_dump_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        finished[record.id] = record
        if on_result:
            on_result(record)
    return failed


def _cases(records: Sequence[ForecastRecord]) -> list[ForecastCase]:
    return [ForecastCase(result=r.result, label=r.label) for r in records if r.result]


def _summary_row(summary: ForecastSummary, too_short: int) -> dict[str, Any]:
    return {**summary.model_dump(mode="json"), "too_short": too_short}


async def baseline_rows(
    cases: Sequence[tuple[str, Trajectory]], config: ForecastRunConfig
) -> dict[str, dict[str, Any]]:
    """The model-free forecasters on the same cases."""
    rows: dict[str, dict[str, Any]] = {}
    baselines: list[Forecaster] = [
        FirstStepForecaster(), NeverForecaster(),
        RandomHazardForecaster(config.random_p, seed=config.settings.seed),
    ]  # fmt: skip
    for baseline in baselines:
        records = [await forecast_case(baseline, s, t) for s, t in cases]
        too_short = sum(1 for r in records if r.error)
        rows[baseline.name] = _summary_row(
            summarize(_cases(records), ks=config.tolerances), too_short
        )
    return rows


def summarise_run(
    records: Sequence[ForecastRecord],
    config: ForecastRunConfig,
    baselines: dict[str, dict[str, Any]],
    *,
    failed: Sequence[dict[str, str]] = (),
    notes: Sequence[str] = (),
    name: str | None = None,
) -> dict[str, Any]:
    """The run's summary: the forecaster's metrics overall and per subset, the baselines'."""
    subsets = sorted({r.subset for r in records})
    too_short = sum(1 for r in records if r.error)
    cost = [r.result.usage for r in records if r.result]
    return {
        "bench": config.bench,
        "forecaster": config.forecaster,
        "name": name or config.forecaster,
        "model": config.settings.model,
        "with_ground_truth": config.with_ground_truth,
        "cv": config.cv,
        "overall": _summary_row(summarize(_cases(records), ks=config.tolerances), too_short),
        "subsets": {
            s: _summary_row(
                summarize(_cases([r for r in records if r.subset == s]), ks=config.tolerances),
                sum(1 for r in records if r.subset == s and r.error),
            )
            for s in subsets
        },
        "baselines": baselines,
        "calls": sum(u.calls for u in cost),
        "seconds": round(sum(u.seconds for u in cost), 2),
        "failed": list(failed),
        "notes": list(notes),
    }


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Rows: the forecaster overall, per subset, then each baseline."""
    ks = sorted(int(k) for k in summary["overall"]["within"])
    header = ["forecaster", "exact", *[f"±{k}" for k in ks], "η", "false alarm",
              "failed", "no-alarm"]  # fmt: skip

    def row(name: str, s: dict[str, Any]) -> list[str]:
        within = {int(k): v for k, v in s["within"].items()}
        return [name, pct(s["step_accuracy"]), *[pct(within.get(k)) for k in ks], pct(s["eta"]),
                pct(s["false_alarms"]), str(s["failed"]), str(s["negatives"])]  # fmt: skip

    rows = [row(summary.get("name") or summary["forecaster"], summary["overall"])]
    if len(summary["subsets"]) > 1:
        rows += [row(f"  {name}", s) for name, s in summary["subsets"].items()]
    rows += [row(f"baseline {name}", s) for name, s in summary["baselines"].items()]
    return header, rows


def write_summary(out_dir: Path, summary: dict[str, Any]) -> None:
    """`forecast-summary.json` and `forecast.md`."""
    write_atomically(out_dir / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    header, rows = table(summary)
    lines = [f"# Forecasting: {summary['forecaster']} on {summary['bench']}", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]  # fmt: skip
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", *[f"- {note}" for note in summary["notes"]]]
    write_atomically(out_dir / TABLE_FILE, "\n".join(lines) + "\n")
