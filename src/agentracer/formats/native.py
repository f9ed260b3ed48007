"""AgenTracer's own trajectory JSON: one `Trajectory` per object, JSONL for many."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agentracer.errors import TraceFormatError
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.formats.text import check_depth
from agentracer.trajectory import Trajectory

FORMAT = "agentracer"


def is_trajectory(obj: object) -> bool:
    """True when `obj` looks like our trajectory JSON (a dict with `steps`)."""
    return isinstance(obj, dict) and "steps" in obj


def parse_trajectory(obj: dict[str, Any], *, where: str | None = None) -> Trajectory:
    """Validate our trajectory JSON, turning pydantic's report into one readable line."""
    try:
        check_depth(obj)
    except ValueError as error:
        raise TraceFormatError(f"invalid trajectory: {error}", path=where) from None
    try:
        return Trajectory.model_validate(obj)
    except ValidationError as error:
        first = error.errors()[0]
        loc = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        extra = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
        text = f"{loc}: {message}" if loc else message
        raise TraceFormatError(f"invalid trajectory: {text}{extra}", path=where) from None


def write_jsonl(trajectories: Iterable[Trajectory], path: str | Path) -> int:
    """Write one trajectory per line; returns how many were written."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as handle:
        for trajectory in trajectories:
            handle.write(trajectory.model_dump_json() + "\n")
            count += 1
    return count


def record_location(probe: Probe, key: str) -> str:
    """`path#key` for a record of a multi-record file, the path alone for a one-record file."""
    return f"{probe.path}#{key}" if key else str(probe.path)


@register_format(
    FORMAT, summary="AgenTracer trajectory JSON: one object, a list, or JSON Lines", priority=10
)
class NativeFormat:
    def detect(self, probe: Probe) -> bool:
        return is_trajectory(probe.first())

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        for key, obj in probe.records():
            where = record_location(probe, key)
            if not is_trajectory(obj):
                yield TraceFormatError("not an AgenTracer trajectory: no 'steps'", path=where)
                continue
            try:
                yield parse_trajectory(obj, where=where)
            except TraceFormatError as error:
                yield error

    def near_miss(self, probe: Probe) -> str | None:
        first = probe.first()
        if isinstance(first, dict) and "steps" not in first and "id" in first and "agents" in first:
            return "the object has no 'steps' list"
        return None
