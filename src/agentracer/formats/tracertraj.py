"""TracerTraj parquet files: Who&When-schema rows with a 0-based `step` in each history entry.

The only public sample is the code-domain test split (127 MetaGPT runs). Two known flaws of that
sample are flagged per record so reports can show them:

- `gold_step_is_prompt_dump`: the labelled step is a prompt-template dump (`# Past Experience`,
  `<experience>`), and the faulty action is the entry after it (74 of 127 records);
- `injection_marker_leak`: the log contains a file name ending `_attacked_solution`, which gives
  away that the fault was injected (68 of 127 records).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.formats.who_and_when import parse_record
from agentracer.trajectory import Provenance, Trajectory

FORMAT = "tracertraj"
FLAG_PROMPT_DUMP = "gold_step_is_prompt_dump"
FLAG_INJECTION_LEAK = "injection_marker_leak"

_PROMPT_DUMP_MARKERS = ("# Past Experience", "<experience>")
_INJECTION_MARKER = "_attacked_solution"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """All rows of a parquet file as plain dicts; a file that is not parquet is a clear error."""
    import pyarrow.parquet as pq  # deferred: only parquet users pay for the import

    try:
        return pq.read_table(path).to_pylist()
    except (OSError, ValueError) as error:  # pyarrow raises ArrowInvalid (a ValueError) or OSError
        raise TraceFormatError(f"not a readable parquet file ({error})", path=path) from None


def tracertraj_flags(trajectory: Trajectory) -> list[str]:
    """The sample's known label flaws that apply to this record."""
    flags = []
    label = trajectory.label
    if label is not None:
        gold = trajectory.steps[label.step].content
        if all(marker in gold for marker in _PROMPT_DUMP_MARKERS):
            flags.append(FLAG_PROMPT_DUMP)
    texts = [trajectory.question, *(step.content for step in trajectory.steps)]
    if any(_INJECTION_MARKER in text for text in texts):
        flags.append(FLAG_INJECTION_LEAK)
    return flags


def parse_row(row: dict[str, Any], *, path: Path, position: int) -> Trajectory:
    """One TracerTraj row as a trajectory, identified by its `question_ID` when it has one."""
    trajectory = parse_record(
        row,
        trajectory_id=str(row.get("question_ID") or f"row-{position}"),
        subset=FORMAT,
        path=str(path),
        record_key=str(position),
        source_format=FORMAT,
        provenance=Provenance(method="unspecified", source=FORMAT),
    )
    trajectory.flags = [*trajectory.flags, *tracertraj_flags(trajectory)]
    return trajectory


def iter_parquet(path: Path) -> Iterator[Trajectory | TraceFormatError]:
    """Each row as a trajectory, or the error that row raised (so one bad row skips, not aborts)."""
    for position, row in enumerate(read_rows(path)):
        try:
            yield parse_row(row, path=path, position=position)
        except TraceFormatError as error:
            yield error


@register_format(
    FORMAT, summary="TracerTraj-style parquet (Who&When-schema rows), one row a run", priority=5
)
class TracerTrajParquet:
    def detect(self, probe: Probe) -> bool:
        return probe.path.suffix == ".parquet" and probe.path.is_file()

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        yield from iter_parquet(probe.path)

    def near_miss(self, probe: Probe) -> str | None:
        return None
