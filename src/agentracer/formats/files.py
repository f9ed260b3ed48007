"""Read trajectories from a user's file, whatever format it is in.

Every format registered in `formats.registry` is read (`agentracer formats` lists them),
recordings made by `agentracer record` (the directory or its `recording.json`) among them. Every problem
is a `TraceFormatError` that names the file (and the record or line) and says what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from agentracer.errors import TraceFormatError
from agentracer.formats.registry import Parsed, Probe, parse_probe
from agentracer.trajectory import Trajectory
from agentracer.wording import count


def iter_file(path: str | Path, format_name: str | None = None) -> Iterator[Parsed]:
    """Each trajectory in the file, or the error its record raised.

    The format is detected by the registry (`formats.registry`) unless `format_name` names one.
    A file-level problem (missing, unreadable, not JSON, no known format) raises at once; a bad
    record inside a multi-record file is yielded as an error so callers can report it and go on.
    """
    path = Path(path)
    if not path.exists():
        raise TraceFormatError("no such file", path=path)
    probe = Probe(path)
    if (
        format_name is None
        and path.is_file()
        and probe.is_json
        and probe.first() is None
        and not probe.records()
    ):
        raise TraceFormatError("the file holds no records", path=path)
    yield from parse_probe(probe, format_name)


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
                f"the file holds {count(len(trajectories), 'trajectory', 'trajectories')}; pick one with --index "
                f"(0..{len(trajectories) - 1})",
                path=path,
            )
        return trajectories[0]
    if not 0 <= index < len(trajectories):
        raise TraceFormatError(
            f"--index {index} is out of range: the file holds {count(len(trajectories), 'trajectory', 'trajectories')}",
            path=path,
        )
    return trajectories[index]
