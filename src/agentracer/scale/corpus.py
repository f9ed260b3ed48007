"""Attribute a whole corpus of traces into one resumable output, in-process or on Ray.

The corpus is a directory, a glob, or a file; it is read lazily, one trace file at a time, and
at most `batch_size` trajectories are held or in flight at once, so memory follows the batch,
not the corpus. Each trajectory is keyed by `path#position` (ids repeat across files). Output:

- `results.jsonl`: one line per verdict, appended and fsynced as it arrives;
- `results.parquet`: a directory of `part-NNNNN.parquet` files, one per batch, each written
  whole and renamed into place (a killed run never leaves a torn part); pyarrow, pandas,
  DuckDB and `datasets` read the directory as one table.

Re-running with the same output skips every key already there; a trajectory whose tracer
failed is reported and tried again next time. On Ray (`ray=True`) each trajectory is a task
(`attribute_trace_item`) and only the driver writes.
"""

from __future__ import annotations

import asyncio
import glob
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agentracer.errors import AgenTracerError, TraceFormatError
from agentracer.formats import iter_file
from agentracer.replay import recording
from agentracer.scale.cluster import cluster_cpus
from agentracer.scale.limiter import get_limiter
from agentracer.scale.tasks import run_tasks
from agentracer.scale.worker import tracer_for, worker_loop
from agentracer.tracers.base import TracerSettings
from agentracer.trajectory import Trajectory, Verdict

TRACE_SUFFIXES = (".json", ".jsonl", ".parquet")
PART_GLOB = "part-*.parquet"
DEFAULT_BATCH = 64
TASK_RETRIES = 3


class CorpusRow(BaseModel):
    """One output row: where the trajectory came from and the tracer's verdict."""

    key: str
    path: str
    position: int
    id: str
    verdict: Verdict

    def flat(self) -> dict[str, Any]:
        """The parquet row: the verdict's main fields as columns, the whole verdict as JSON."""
        v = self.verdict
        return {
            "key": self.key,
            "path": self.path,
            "position": self.position,
            "id": self.id,
            "agent": v.agent,
            "step": v.step,
            "reason": v.reason,
            "tracer": v.tracer,
            "parse_status": v.parse_status,
            "verdict": v.model_dump_json(),
        }


@dataclass
class CorpusJob:
    """What to run over the corpus: a registered tracer and its settings."""

    tracer: str
    settings: TracerSettings
    with_ground_truth: bool = False
    limit: int | None = None  # calls in flight per endpoint across a Ray cluster

    def payload(self) -> dict[str, Any]:
        return {
            "tracer": self.tracer,
            "settings": self.settings.model_dump(mode="json"),
            "api_key": self.settings.connection.api_key,
            "with_ground_truth": self.with_ground_truth,
            "limit": self.limit,
        }


@dataclass
class CorpusReport:
    written: int = 0
    resumed: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    unreadable: list[dict[str, str]] = field(default_factory=list)


def find_traces(source: str | Path) -> list[Path]:
    """The trace files and recording directories of `source`: a file, a recording, a directory
    (searched recursively) or a glob pattern; sorted, so runs and resumes see one order."""
    text = str(source)
    if any(ch in text for ch in "*?["):
        matches = [Path(p) for p in glob.glob(os.path.expanduser(text), recursive=True)]
    else:
        path = Path(text).expanduser()
        if not path.exists():
            raise AgenTracerError(f"{text}: no such file, directory or glob match")
        matches = [path]
    found: set[Path] = set()
    for match in matches:
        if match.is_file() or recording.is_recording(match):
            found.add(match)
        elif match.is_dir():
            for child in match.rglob("*"):
                if recording.is_recording(child) or (
                    child.is_file()
                    and child.suffix in TRACE_SUFFIXES
                    and not any(part.startswith(".") for part in child.parts)
                    and not any(recording.is_recording(p) for p in child.parents)
                ):
                    found.add(child)
    if not found:
        raise AgenTracerError(
            f"{text}: no trace files found (looked for {', '.join(TRACE_SUFFIXES)})"
        )
    return sorted(found)


def _reason(error: TraceFormatError, where: str) -> str:
    """The error without the file (and record) in front that the report's `path`, `where`,
    already names; a record key the file's `where` does not name is kept (`line 3: ...`)."""
    text = " ".join(error.message.split())
    if error.path is None or error.path == where:
        return text
    file, _, record = error.path.partition("#")
    if file != where.partition("#")[0]:
        return error.one_line()
    return f"{record}: {text}" if record else text


def iter_corpus(
    paths: list[Path], report: CorpusReport
) -> Iterator[tuple[str, Path, int, Trajectory]]:
    """Each trajectory of each file with its key; unreadable files and records go to `report`
    (`path`, and the `error` without the path again)."""
    for path in paths:
        try:
            for position, entry in enumerate(iter_file(path)):
                if isinstance(entry, TraceFormatError):
                    report.unreadable.append(
                        {
                            "path": f"{path}#{position}",
                            "error": _reason(entry, f"{path}#{position}"),
                        }
                    )
                    continue
                yield f"{path}#{position}", path, position, entry
        except TraceFormatError as error:
            report.unreadable.append({"path": str(path), "error": _reason(error, str(path))})


async def _attribute(item: dict[str, Any]) -> dict[str, Any]:
    job = item["job"]
    settings = TracerSettings.model_validate(job["settings"])
    settings.connection.api_key = job.get("api_key")  # not part of dumped settings
    tracer = tracer_for(job["tracer"], settings, job.get("limit"))
    trajectory = Trajectory.model_validate(item["trajectory"])
    try:
        verdict = await tracer.attribute(trajectory, with_ground_truth=job["with_ground_truth"])
    except AgenTracerError as error:
        return {"key": item["key"], "error": error.one_line()}
    row = CorpusRow(
        key=item["key"], path=item["path"], position=item["position"], id=trajectory.id,
        verdict=verdict,
    )  # fmt: skip
    return {"row": row.model_dump(mode="json")}


def attribute_trace_item(item: dict[str, Any]) -> dict[str, Any]:
    """The Ray task: attribute one trajectory; returns `{"row": ...}` or `{"error": ...}`."""
    return worker_loop().run_until_complete(_attribute(item))


class _Writer:
    """Appends rows to the output; knows which keys it already holds."""

    def __init__(self, out: Path, batch_size: int) -> None:
        self.out = out
        self.parquet = out.suffix == ".parquet"
        self.batch_size = batch_size
        self.buffer: list[CorpusRow] = []
        self.keys = self._existing_keys()

    def _existing_keys(self) -> set[str]:
        if self.parquet:
            if self.out.is_file():
                raise AgenTracerError(
                    f"{self.out} is a file; a parquet output is a directory of parts: "
                    "use a new --out"
                )
            import pyarrow.parquet as pq

            return {
                key
                for part in sorted(self.out.glob(PART_GLOB))
                for key in pq.read_table(part, columns=["key"]).column("key").to_pylist()
            }
        if not self.out.exists():
            return set()
        keys, good, torn = set(), [], False
        for line in self.out.read_text(encoding="utf-8").splitlines():
            try:
                keys.add(json.loads(line)["key"])
                good.append(line)
            except (json.JSONDecodeError, KeyError, TypeError):
                torn = True  # a line cut by a kill: dropped, its trajectory runs again
        if torn:
            self.out.write_text("".join(f"{line}\n" for line in good), encoding="utf-8")
        return keys

    def add(self, row: CorpusRow) -> bool:
        if row.key in self.keys:
            return False
        self.keys.add(row.key)
        if self.parquet:
            self.buffer.append(row)
            if len(self.buffer) >= self.batch_size:
                self.flush()
        else:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            with self.out.open("a", encoding="utf-8") as handle:
                handle.write(row.model_dump_json() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        return True

    def flush(self) -> None:
        if not self.parquet or not self.buffer:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.out.mkdir(parents=True, exist_ok=True)
        number = len(list(self.out.glob(PART_GLOB)))
        final = self.out / f"part-{number:05d}.parquet"
        partial = self.out / f".part-{number:05d}.parquet.tmp"
        pq.write_table(pa.Table.from_pylist([row.flat() for row in self.buffer]), partial)
        os.replace(partial, final)
        self.buffer = []


def attribute_corpus(
    source: str | Path,
    job: CorpusJob,
    out: Path,
    *,
    batch_size: int = DEFAULT_BATCH,
    ray: bool = False,
    on_row: Callable[[CorpusRow | None], None] | None = None,
) -> CorpusReport:
    """Attribute every trajectory of `source` not yet in `out` (see the module docstring).

    In-process, trajectories run `batch_size` at a time (the tracer's model concurrency
    still applies); on Ray, `batch_size` tasks are in flight. `on_row` is called per
    trajectory (None for a failure), e.g. for a progress bar.
    """
    if out.suffix not in (".jsonl", ".parquet"):
        raise AgenTracerError(f"--out must end in .jsonl or .parquet, not {out.name!r}")
    report = CorpusReport()
    writer = _Writer(out, batch_size)
    items = _todo(source, job.payload(), writer.keys, report)

    def take(result: dict[str, Any]) -> None:
        if "error" in result:
            report.failed.append({"key": result["key"], "error": result["error"]})
            if on_row:
                on_row(None)
            return
        row = CorpusRow.model_validate(result["row"])
        report.written += writer.add(row)
        if on_row:
            on_row(row)

    try:
        if ray:
            _run_on_ray(items, take, window=batch_size)
        else:
            _run_in_process(items, take, batch_size)
    finally:
        writer.flush()
    return report


def _todo(
    source: str | Path, payload: dict[str, Any], done: set[str], report: CorpusReport
) -> Iterator[dict[str, Any]]:
    for key, path, position, trajectory in iter_corpus(find_traces(source), report):
        if key in done:
            report.resumed += 1
            continue
        yield {
            "key": key,
            "path": str(path),
            "position": position,
            "trajectory": trajectory.model_dump(mode="json"),
            "job": payload,
        }


def _run_in_process(
    items: Iterator[dict[str, Any]], take: Callable[[dict[str, Any]], None], batch_size: int
) -> None:
    """`batch_size` trajectories at a time, concurrently on one event loop."""
    loop = worker_loop()
    while True:
        batch = list(itertools.islice(items, batch_size))
        if not batch:
            return
        for result in loop.run_until_complete(_gather(batch)):
            take(result)


async def _gather(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*map(_attribute, batch)))


def _run_on_ray(
    items: Iterator[dict[str, Any]], take: Callable[[dict[str, Any]], None], window: int
) -> None:
    def take_keyed(key: str, payload: dict[str, Any]) -> None:
        take({"key": key, **payload})

    keyed = ((item["key"], item) for item in items)
    limiter = get_limiter()  # owned by the driver, not a worker: an actor dies with its owner
    run_tasks(
        attribute_trace_item, keyed, take_keyed, window=max(window, cluster_cpus()),
        retries=TASK_RETRIES,
    )  # fmt: skip
    del limiter
