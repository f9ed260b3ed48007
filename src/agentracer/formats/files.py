"""Read trajectories from a user's file, whatever format it is in.

Supported: our trajectory JSON (one object, a list, or JSONL), Who&When-schema records (one
per `.json` file, a list, or JSONL), TracerTraj-style parquet, and recordings made by
`agentracer record` (the directory or its `recording.json`). Every problem is a
`TraceFormatError` that names the file (and the record or line) and says what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats import native, tracertraj, who_and_when
from agentracer.trajectory import Trajectory

_KNOWN = (
    "expected a Who&When record (an object with 'history') or an AgenTracer trajectory "
    "(an object with 'steps')"
)


def parse_object(obj: Any, *, path: Path, key: str, trajectory_id: str | None = None) -> Trajectory:
    """Dispatch one decoded JSON object to the format it is in."""
    where = f"{path}#{key}" if key else str(path)
    if native.is_trajectory(obj):
        return native.parse_trajectory(obj, where=where)
    if who_and_when.is_record(obj):
        return who_and_when.parse_record(
            obj, trajectory_id=trajectory_id, path=str(path), record_key=key or None
        )
    if isinstance(obj, dict):
        keys = ", ".join(sorted(map(str, obj))[:8]) or "none"
        raise TraceFormatError(
            f"no known trajectory format: {_KNOWN}; found keys: {keys}", path=where
        )
    raise TraceFormatError(
        f"no known trajectory format: {_KNOWN}; found a JSON {type(obj).__name__}", path=where
    )


def _decode(text: str, path: Path) -> list[tuple[str, Any]]:
    """(record key, decoded object) pairs: a whole-file JSON document, else JSON Lines."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as whole_error:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if len(lines) < 2 and path.suffix != ".jsonl":
            raise TraceFormatError(
                f"not valid JSON (line {whole_error.lineno}, column {whole_error.colno}: "
                f"{whole_error.msg})",
                path=path,
            ) from None
        return [(f"line{n}", _decode_line(line, path, n)) for n, line in lines]
    if isinstance(document, list):
        return [(str(i), item) for i, item in enumerate(document)]
    return [("", document)]


def _decode_line(line: str, path: Path, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise TraceFormatError(
            f"line {number} is not valid JSON (column {error.colno}: {error.msg})", path=path
        ) from None


def iter_file(path: str | Path) -> Iterator[Trajectory | TraceFormatError]:
    """Each trajectory in the file, or the error its record raised.

    A file-level problem (missing, unreadable, not JSON at all) raises at once; a bad record
    inside a multi-record file is yielded as an error so callers can report it and go on.
    """
    path = Path(path)
    from agentracer.replay import recording  # deferred: only recordings need the replay lab

    if recording.is_recording(path):
        from agentracer.replay.convert import to_trajectory

        yield to_trajectory(recording.load(path), path=path)
        return
    if not path.is_file():
        raise TraceFormatError("no such file", path=path)
    if path.suffix == ".parquet":
        yield from tracertraj.iter_parquet(path)
        return
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TraceFormatError("not a text file (it is not UTF-8)", path=path) from None
    if not text.strip():
        raise TraceFormatError("the file is empty", path=path)
    records = _decode(text, path)
    if not records:
        raise TraceFormatError("the file holds no records", path=path)
    single = len(records) == 1
    for key, obj in records:
        try:
            yield parse_object(obj, path=path, key=key, trajectory_id=path.stem if single else None)
        except TraceFormatError as error:
            yield error


def load_file(path: str | Path) -> list[Trajectory]:
    """All trajectories in a file; the first problem raises `TraceFormatError`."""
    trajectories = []
    for item in iter_file(path):
        if isinstance(item, TraceFormatError):
            raise item
        trajectories.append(item)
    return trajectories


def load_one(path: str | Path, index: int | None = None) -> Trajectory:
    """The one trajectory in a file, or the `index`-th (0-based) of a multi-record file."""
    trajectories = load_file(path)
    if index is None:
        if len(trajectories) > 1:
            raise TraceFormatError(
                f"the file holds {len(trajectories)} trajectories; pick one with --index "
                f"(0..{len(trajectories) - 1})",
                path=path,
            )
        return trajectories[0]
    if not 0 <= index < len(trajectories):
        raise TraceFormatError(
            f"--index {index} is out of range: the file holds {len(trajectories)} trajectories",
            path=path,
        )
    return trajectories[index]
