"""The TracerTraj builder: recordings in, labelled records in the Who&When schema out.

A failed recording is labelled by counterfactual replay (the earliest step whose fix flips it
to success); a successful one by fault injection (a perturbed step that makes it fail; the
record is then the failing replay). Each record carries its provenance (procedure, analyzer or
operator, replays, majority agreement, models) in a `provenance` field beside the schema's own,
and its history is scrubbed of anything that would reveal how it was made (run directories,
file names). The labelled step is always an agent's model output.

Output: `<out>/tracertraj.jsonl`, `<out>/tracertraj.parquet` (loadable by `datasets`) and
`<out>/annotate.log` (JSON lines), one line per recording processed, so a re-run skips finished ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats import recording as rec
from agentracer.formats.recorded_run import step_index, to_trajectory
from agentracer.formats.who_and_when import to_record
from agentracer.replay.counterfactual import Analyzer, SearchResult, Strategy, find_decisive_step
from agentracer.replay.injection import InjectionResult, ModelAttacker, inject_faults
from agentracer.replay.upstream import Upstream
from agentracer.trajectory import Label, Provenance, Trajectory

JSONL_FILE = "tracertraj.jsonl"
PARQUET_FILE = "tracertraj.parquet"
LOG_FILE = "annotate.log"  # JSON lines; not .jsonl, so a dataset reader skips it
SCRUBBED = "<workdir>"


@dataclass
class AnnotateOptions:
    strategy: Strategy = "linear"
    k: int = 1
    operators: list[str] | None = None
    injection_steps: int | None = None
    seed: int = 0


@dataclass
class AnnotateReport:
    """One processed recording: what happened and, when labelled, its record."""

    recording: str
    status: str
    record: dict[str, Any] | None = None
    replays: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


def scrub(trajectory: Trajectory, places: list[Path]) -> Trajectory:
    """The trajectory with every mention of the given directories replaced by a neutral token."""
    needles = sorted(
        {str(p.resolve()) for p in places} | {str(p) for p in places} | {p.name for p in places},
        key=len,
        reverse=True,
    )
    steps = []
    for step in trajectory.steps:
        content = step.content
        for needle in needles:
            content = content.replace(needle, SCRUBBED)
        steps.append(step.model_copy(update={"content": content}))
    return trajectory.model_copy(update={"steps": steps})


def _record(trajectory: Trajectory, label: Label, source: rec.Recording) -> dict[str, Any]:
    labelled = trajectory.model_copy(update={"label": label, "metadata": {}})
    record = to_record(labelled)
    record["question_ID"] = source.id
    record["provenance"] = label.provenance.model_dump(mode="json")
    return record


async def _label_failure(
    directory: Path,
    source: rec.Recording,
    analyzer: Analyzer,
    upstream: Upstream,
    work: Path,
    options: AnnotateOptions,
) -> AnnotateReport:
    result = await find_decisive_step(
        directory, analyzer, upstream, work, strategy=options.strategy, k=options.k
    )
    return failure_report(directory, source, result, work, options)


def failure_report(
    directory: Path,
    source: rec.Recording,
    result: SearchResult,
    work: Path,
    options: AnnotateOptions,
) -> AnnotateReport:
    """The report (and record, when a flip was found) for a failed recording's search."""
    detail = result.model_dump(mode="json", exclude={"attempts"})
    if result.step is None or result.agent is None:
        return AnnotateReport(str(directory), "no-flip", replays=result.replays, detail=detail)
    trajectory = scrub(to_trajectory(source, path=directory), [directory, work])
    provenance = Provenance(
        method="counterfactual-replay",
        source="agentracer-annotate",
        details={
            "analyzer": result.analyzer, "strategy": result.strategy, "k": options.k,
            "replays": result.replays, "agreement": result.agreement, "model": source.model,
            "steps_tried": [a.step for a in result.attempts],
        },
    )  # fmt: skip
    reason = (
        f"Correcting the output of {result.agent} at step {result.step} turns the failure into "
        "success on replay; no earlier correction tried does."
    )
    label = Label(agent=result.agent, step=result.step, reason=reason, provenance=provenance)
    return AnnotateReport(
        str(directory), "labelled", _record(trajectory, label, source), result.replays, detail
    )


async def _label_success(
    directory: Path,
    source: rec.Recording,
    upstream: Upstream,
    attacker: ModelAttacker | None,
    work: Path,
    options: AnnotateOptions,
) -> AnnotateReport:
    result = await inject_faults(
        directory, upstream, work, operators=options.operators, attacker=attacker,
        steps=options.injection_steps, k=options.k, seed=options.seed,
    )  # fmt: skip
    return success_report(directory, source, result, work, options)


def success_report(
    directory: Path,
    source: rec.Recording,
    result: InjectionResult,
    work: Path,
    options: AnnotateOptions,
) -> AnnotateReport:
    """The report (and record, when an injection was kept) for a successful recording."""
    kept = result.kept()
    if not kept:
        return AnnotateReport(str(directory), "no-failing-injection", replays=result.replays)
    injection = kept[0]
    assert injection.replay_dir is not None
    failing_dir = Path(injection.replay_dir)
    failing = rec.load(failing_dir)
    trajectory = scrub(to_trajectory(failing, path=failing_dir), [directory, work, failing_dir])
    step = step_index(trajectory, injection.call)
    provenance = Provenance(
        method="fault-injection",
        source="agentracer-annotate",
        details={
            "operator": injection.operator, "k": options.k, "replays": result.replays,
            "agreement": injection.agreement,
            "model": source.model,
        },
    )  # fmt: skip
    reason = (
        f"The output of {injection.agent} at step {step} is wrong: with the original output "
        "at this step the run succeeds, with this one it fails."
    )
    label = Label(agent=injection.agent, step=step, reason=reason, provenance=provenance)
    return AnnotateReport(
        str(directory), "labelled", _record(trajectory, label, failing), result.replays
    )


def work_dir_for(out_dir: Path, position: int, source: rec.Recording) -> Path:
    """Where the replays of the `position`-th recording go."""
    return out_dir / "replays" / f"{position:04d}-{source.id}"


def log_report(log_path: Path, report: AnnotateReport) -> None:
    """Append one processed recording to `annotate.log` (what a re-run skips)."""
    with log_path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(report.__dict__, ensure_ascii=False) + "\n")


def done_reports(out_dir: Path) -> dict[str, AnnotateReport]:
    """The recordings a previous run finished, by path."""
    return {key: AnnotateReport(**entry) for key, entry in _done(out_dir / LOG_FILE).items()}


def _done(log: Path) -> dict[str, dict[str, Any]]:
    if not log.is_file():
        return {}
    entries = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a kill: that recording is done again
        entries[entry["recording"]] = entry
    return entries


def write_dataset(records: list[dict[str, Any]], out_dir: Path) -> None:
    """The records as JSONL and as parquet (provenance as JSON text there, one column type)."""
    import datasets

    with (out_dir / JSONL_FILE).open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    if records:
        flat = [{**r, "provenance": json.dumps(r["provenance"])} for r in records]
        datasets.Dataset.from_list(flat).to_parquet(str(out_dir / PARQUET_FILE))


async def annotate(
    recordings: list[Path],
    out_dir: Path,
    *,
    upstream_for: Callable[[rec.Recording], Upstream],
    analyzer: Analyzer,
    attacker: ModelAttacker | None = None,
    options: AnnotateOptions | None = None,
    on_progress: Callable[[AnnotateReport], None] | None = None,
) -> list[AnnotateReport]:
    """Label every recording (skipping those a previous run finished) and write the dataset."""
    options = options or AnnotateOptions()
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / LOG_FILE
    done = _done(log_path)
    reports: list[AnnotateReport] = []
    for position, directory in enumerate(recordings):
        key = str(directory)
        if key in done:
            reports.append(AnnotateReport(**done[key]))
            continue
        try:
            source = rec.load(directory)
        except TraceFormatError as error:  # fails alone, and is tried again on a re-run
            reports.append(AnnotateReport(key, f"unreadable: {error.one_line()}"))
            if on_progress:
                on_progress(reports[-1])
            continue
        work = work_dir_for(out_dir, position, source)
        if source.outcome.status in ("failure", "crashed", "timeout"):
            report = await _label_failure(
                directory, source, analyzer, upstream_for(source), work, options
            )
        elif source.outcome.status == "success":
            report = await _label_success(
                directory, source, upstream_for(source), attacker, work, options
            )
        else:
            report = AnnotateReport(key, f"skipped ({source.outcome.status})")
        log_report(log_path, report)
        reports.append(report)
        if on_progress:
            on_progress(report)
    write_dataset([r.record for r in reports if r.record is not None], out_dir)
    return reports
