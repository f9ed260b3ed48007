"""The plumbing every framework importer shares, so each format module holds only its source's
own shape: turning a builder into a trajectory or a named error, the notes for what was
skipped or re-rooted, and the two ways a file holds runs.

- Span-shaped exports (Agents SDK, LangSmith, Langfuse): all records are spans of one or more
  traces; each trace is one run (`span_runs`).
- Message lists (AutoGen, AG2, LangChain): the file is one run's messages (a list or JSON
  Lines of messages), or one run per record, each a container holding a message list
  (`message_runs`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats.build import TrajectoryBuilder
from agentracer.formats.native import record_location
from agentracer.formats.registry import Parsed, Probe
from agentracer.formats.spans import Span, SpanTree, group_traces


def finish(builder: TrajectoryBuilder) -> Parsed:
    """The builder's trajectory, or the `TraceFormatError` that says why there is none."""
    try:
        return builder.build()
    except TraceFormatError as error:
        return error


def no_records(probe: Probe) -> TraceFormatError | None:
    """The error for a file without records (an empty list), else None."""
    if probe.records():
        return None
    return TraceFormatError("the file holds no records", path=probe.path)


def note_skipped(builder: TrajectoryBuilder, counts: Counter[str], what: str) -> None:
    """One note counting what was skipped, by kind: `{what} were skipped: 2 EVENT, 1 x`."""
    if counts:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        builder.note(f"{what} were skipped: {kinds}")


def note_orphans(builder: TrajectoryBuilder, tree: SpanTree, unit: str) -> None:
    """Say that spans whose parent is not in the file were read as roots (none is dropped)."""
    if tree.orphans:
        ids = ", ".join(span.id for span in tree.orphans[:3])
        more = ", ..." if len(tree.orphans) > 3 else ""
        builder.note(
            f"{len(tree.orphans)} {unit}(s) name a parent that is not in the file "
            f"({ids}{more}); they are read as roots"
        )
    if tree.cut:
        ids = ", ".join(span.id for span in tree.cut[:3])
        more = ", ..." if len(tree.cut) > 3 else ""
        builder.note(
            f"{len(tree.cut)} loop(s) of parent ids ({unit}s under themselves), cut at "
            f"{ids}{more}: read as roots"
        )


SpanReader = Callable[[TrajectoryBuilder, SpanTree], None]


def span_runs(
    probe: Probe,
    spans: list[Span],
    *,
    format: str,
    read: SpanReader,
    unit: str = "span",
    metadata: Callable[[str], dict[str, Any]] | None = None,
) -> Iterator[Parsed]:
    """One trajectory per trace id, read by `read` from the trace's span tree."""
    for trace_id, trace_spans in group_traces(spans).items():
        builder = TrajectoryBuilder(
            id=trace_id or probe.path.stem,
            format=format,
            path=probe.path,
            record=trace_id or None,
            metadata=metadata(trace_id) if metadata else {},
        )
        tree = SpanTree(trace_spans)
        read(builder, tree)
        note_orphans(builder, tree, unit)
        yield finish(builder)


def message_runs(
    probe: Probe,
    *,
    format: str,
    is_message: Callable[[Any], bool],
    messages_of: Callable[[Any], list[Any] | None],
    read: Callable[[TrajectoryBuilder, list[Any]], None],
    not_a_run: str,
    metadata: Callable[[Any], dict[str, Any]] | None = None,
) -> Iterator[Parsed]:
    """Trajectories of a message-list file: one run when the records are messages, else one
    per record, whose messages `messages_of` finds (None: the record is not a run, and the
    error says `not_a_run`)."""
    if (error := no_records(probe)) is not None:
        yield error
        return
    records = probe.records()
    if is_message(records[0][1]):
        runs: list[tuple[str, Any, list[Any] | None]] = [("", None, [obj for _, obj in records])]
    else:
        runs = [(key, obj, messages_of(obj)) for key, obj in records]
    single = len(runs) == 1
    for key, obj, messages in runs:
        if messages is None:
            yield TraceFormatError(not_a_run, path=record_location(probe, key))
            continue
        builder = TrajectoryBuilder(
            id=probe.path.stem if single or not key else f"{probe.path.stem}-{key}",
            format=format,
            path=probe.path,
            record=key or None,
            metadata=metadata(obj) if metadata and obj is not None else {},
        )
        read(builder, messages)
        yield finish(builder)
