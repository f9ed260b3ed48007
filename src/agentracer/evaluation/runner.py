"""Run a tracer over a benchmark into a run directory that survives interruption.

A run directory holds `config.json` (what was run), `results.jsonl` (one line per finished
trajectory: verdict, gold label, correctness), `summary.json` and `results.md`. Each result
line is flushed to disk as soon as its verdict exists, so Ctrl-C or a crash loses at most the
verdicts in flight; running again with the same directory skips every finished trajectory.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TextIO, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentracer.errors import AgenTracerError, RunDirectoryError
from agentracer.evaluation.lock import RunLock
from agentracer.evaluation.metrics import Score, score_verdict
from agentracer.formats.benchmarks import Benchmark
from agentracer.tracers.base import Expectation, Tracer, TracerSettings
from agentracer.trajectory import Label, Outcome, Trajectory, Verdict

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
TABLE_FILE = "results.md"
NO_GOLD_LABEL = "no gold label"
SUCCESSFUL_RUN = "a successful run (nothing to attribute; kept for forecasting's false alarms)"


class RunConfig(BaseModel):
    """What an evaluation run computes. The fields in `IDENTITY` must match to resume a run."""

    model_config = ConfigDict(extra="forbid")

    bench: str
    subsets: list[str]
    tracer: str
    settings: TracerSettings = Field(default_factory=TracerSettings)
    with_ground_truth: bool = True
    tolerances: list[int] = Field(default_factory=lambda: [1, 3])
    concurrency: int = Field(default=4, ge=1)
    data: str | None = None

    IDENTITY: ClassVar[tuple[str, ...]] = ("bench", "tracer", "settings", "with_ground_truth")

    def identity(self) -> dict[str, Any]:
        dumped = self.model_dump(mode="json", exclude={"settings": {"connection"}})
        return {key: dumped[key] for key in self.IDENTITY}


class RecordResult(BaseModel):
    """One line of `results.jsonl`."""

    id: str
    subset: str
    n_steps: int
    flags: list[str] = Field(default_factory=list)
    gold: Label
    verdict: Verdict
    score: Score
    expectation: Expectation | None = None


@dataclass
class RunOutcome:
    """What `run_evaluation` did: all results (old and new), and what it could not do."""

    results: list[RecordResult]
    computed: int
    resumed: int
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


def prepare_run_dir(out_dir: Path, config: RunConfig) -> dict[str, RecordResult]:
    """Create or reopen `out_dir`; returns the results already finished there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    config_path = out_dir / CONFIG_FILE
    previous = _read_config(config_path)
    if previous is not None and previous.identity() != config.identity():
        differing = [k for k in config.IDENTITY if previous.identity()[k] != config.identity()[k]]
        raise RunDirectoryError(
            f"holds a run with a different {', '.join(differing)} "
            f"({json.dumps({k: previous.identity()[k] for k in differing})}); "
            "use another --out to start a new run",
            path=out_dir,
        )
    finished = read_results(out_dir / RESULTS_FILE)
    if previous is None and finished:
        _check_recovered(out_dir, config, finished)
    write_atomically(config_path, config.model_dump_json(indent=2))
    return finished


def _read_config(path: Path) -> RunConfig | None:
    """The run's `config.json`, or None when there is none or it was torn by a kill (it is
    rewritten; the results say whose they are, see `_check_recovered`)."""
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (ValueError, RecursionError):  # torn, cut inside a character, or empty
        return None
    try:
        return RunConfig.model_validate(raw)
    except ValidationError:
        raise RunDirectoryError(
            "holds a config.json this version cannot read; use another --out", path=path.parent
        ) from None


def _check_recovered(out_dir: Path, config: RunConfig, finished: dict[str, RecordResult]) -> None:
    """With config.json lost, keep the finished results only if they are this tracer's."""
    others = {r.verdict.tracer for r in finished.values()} - {config.tracer}
    if others:
        raise RunDirectoryError(
            f"lost its config.json and holds results of {', '.join(sorted(others))}, "
            f"not {config.tracer}; use another --out",
            path=out_dir,
        )


def write_atomically(path: Path, text: str) -> None:
    """Write `path` whole or not at all (a kill mid-write leaves the old file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_results(path: Path) -> dict[str, RecordResult]:
    """Finished results keyed by trajectory id (see `read_lines`)."""
    return read_lines(path, RecordResult)


Line = TypeVar("Line", bound=BaseModel)


def read_lines(path: Path, model: type[Line]) -> dict[str, Line]:
    """The lines of a run's JSON Lines file, keyed by their `id`. A torn line (from a kill,
    possibly cut inside a multi-byte character) is dropped, and only that line."""
    if not path.exists():
        return {}
    lines: dict[str, Line] = {}
    good_lines: list[str] = []
    torn = False
    for raw in path.read_bytes().split(b"\n"):
        if not raw.strip():
            continue
        try:
            line = model.model_validate_json(raw.decode("utf-8"))
        except (ValidationError, UnicodeDecodeError):
            torn = True
            continue
        lines[line.id] = line  # type: ignore[attr-defined]
        good_lines.append(line.model_dump_json())
    if torn:  # rewrite so later appends follow a clean line
        write_atomically(path, "".join(f"{text}\n" for text in good_lines))
    return lines


def _append(handle: TextIO, result: RecordResult) -> None:
    handle.write(result.model_dump_json() + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def unlabelled_reason(trajectory: Trajectory) -> str:
    """Why an unlabelled run is skipped: a success has no failure to attribute."""
    return SUCCESSFUL_RUN if trajectory.outcome is Outcome.SUCCESS else NO_GOLD_LABEL


def failure_reason(error: Exception) -> str:
    """One line saying why a trajectory failed: our own message, or the exception's type and
    text for anything unexpected (a bug in a tracer, a malformed record)."""
    if isinstance(error, AgenTracerError):
        return error.one_line()
    text = " ".join(str(error).split())[:300]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def _attribute_one(
    tracer: Tracer, trajectory: Trajectory, subset: str, config: RunConfig
) -> RecordResult:
    assert trajectory.label is not None
    verdict = await tracer.attribute(trajectory, with_ground_truth=config.with_ground_truth)
    return RecordResult(
        id=trajectory.id,
        subset=subset,
        n_steps=len(trajectory.steps),
        flags=trajectory.flags,
        gold=trajectory.label,
        verdict=verdict,
        score=score_verdict(verdict, trajectory.label, config.tolerances),
        expectation=tracer.expectation(trajectory),
    )


async def run_evaluation(
    benchmark: Benchmark,
    tracer: Tracer,
    config: RunConfig,
    out_dir: Path,
    on_result: Callable[[RecordResult | None], None] | None = None,
) -> RunOutcome:
    """Attribute every labelled trajectory of `benchmark` not yet finished in `out_dir`.

    Records that failed to load, or have no gold label, are reported in `skipped`; any error
    on one trajectory (model, parser, record) is reported in `failed` and retried on the next
    run. `on_result` is called once per trajectory (None for one that failed), e.g. to advance
    a progress bar. The run directory is locked for the duration (see `RunLock`).
    """
    with RunLock(out_dir):
        return await _run_locked(benchmark, tracer, config, out_dir, on_result)


async def _run_locked(
    benchmark: Benchmark,
    tracer: Tracer,
    config: RunConfig,
    out_dir: Path,
    on_result: Callable[[RecordResult | None], None] | None,
) -> RunOutcome:
    finished = prepare_run_dir(out_dir, config)
    skipped = [{"path": e.path or "", "error": e.message} for e in benchmark.problems()]
    todo: list[tuple[str, Trajectory]] = []
    results: dict[str, RecordResult] = {}
    for subset, trajectory in benchmark.trajectories():
        if trajectory.label is None:
            skipped.append({"path": trajectory.id, "error": unlabelled_reason(trajectory)})
        elif trajectory.id in finished:
            results[trajectory.id] = finished[trajectory.id]
        else:
            todo.append((subset, trajectory))
    resumed = len(results)
    failed: list[dict[str, str]] = []
    semaphore = asyncio.Semaphore(config.concurrency)

    async def work(subset: str, trajectory: Trajectory, handle: TextIO) -> None:
        async with semaphore:
            try:
                result = await _attribute_one(tracer, trajectory, subset, config)
            except Exception as error:  # any failure of one trajectory is that one's alone
                failed.append({"id": trajectory.id, "error": failure_reason(error)})
                if on_result:
                    on_result(None)
                return
        _append(handle, result)
        results[result.id] = result
        if on_result:
            on_result(result)

    with (out_dir / RESULTS_FILE).open("a", encoding="utf-8") as handle:
        await asyncio.gather(*(work(subset, t, handle) for subset, t in todo))
    order = {t.id: i for i, (_, t) in enumerate(benchmark.trajectories())}
    ordered = sorted(results.values(), key=lambda r: order.get(r.id, len(order)))
    return RunOutcome(ordered, len(results) - resumed, resumed, skipped, failed)


# Public entry points for other executors (the Ray driver in `agentracer.scale`), so that every
# path scores a trajectory and writes a result line the same way.


async def attribute_one(
    tracer: Tracer, trajectory: Trajectory, subset: str, config: RunConfig
) -> RecordResult:
    """Attribute one labelled trajectory and score it: one `results.jsonl` line."""
    return await _attribute_one(tracer, trajectory, subset, config)


def append_result(handle: TextIO, result: RecordResult) -> None:
    """Append one result line and make it durable before returning (fsync)."""
    _append(handle, result)


def split_work(
    benchmark: Benchmark, finished: dict[str, RecordResult]
) -> tuple[dict[str, RecordResult], list[tuple[str, Trajectory]], list[dict[str, str]]]:
    """(results already finished, (subset, trajectory) still to do, skipped records) of a run."""
    skipped = [{"path": e.path or "", "error": e.message} for e in benchmark.problems()]
    todo: list[tuple[str, Trajectory]] = []
    results: dict[str, RecordResult] = {}
    for subset, trajectory in benchmark.trajectories():
        if trajectory.label is None:
            skipped.append({"path": trajectory.id, "error": unlabelled_reason(trajectory)})
        elif trajectory.id in finished:
            results[trajectory.id] = finished[trajectory.id]
        else:
            todo.append((subset, trajectory))
    return results, todo, skipped
