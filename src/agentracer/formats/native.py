"""AgenTracer's own trajectory JSON: one `Trajectory` per object, JSONL for many."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agentracer.errors import TraceFormatError
from agentracer.trajectory import Trajectory

FORMAT = "agentracer"


def is_trajectory(obj: object) -> bool:
    """True when `obj` looks like our trajectory JSON (a dict with `steps`)."""
    return isinstance(obj, dict) and "steps" in obj


def parse_trajectory(obj: dict[str, Any], *, where: str | None = None) -> Trajectory:
    """Validate our trajectory JSON, turning pydantic's report into one readable line."""
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
