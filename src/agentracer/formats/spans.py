"""Span trees: the shape shared by every tracing format (OTel, OpenInference, the Agents SDK,
LangSmith, Langfuse).

An importer turns its records into `Span`s (id, parent id, trace id, start and end times,
attributes, error status); `group_traces` splits them by trace, and `SpanTree` rebuilds the tree
from parent ids whatever order the spans came in, walks it in execution order (children by
start time) and finds a span's nearest ancestor that satisfies a test (e.g. the enclosing agent
span). A span whose parent is not in the file is kept as a root and reported in `orphans`, so
the importer can say so in a note instead of dropping it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SpanEvent:
    """Something a span recorded at a point in time (an exception, a prompt, a choice)."""

    name: str
    time: float = 0.0
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)  # slots: a 200k-span export holds 200k of these
class Span:
    """One unit of work of a trace, whatever format it came from."""

    id: str
    trace_id: str
    name: str = ""
    parent_id: str | None = None
    start: float = 0.0
    end: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # the error message or status when the span failed
    kind: str = ""  # the format's own span type (e.g. "LLM", "generation", "execute_tool")
    raw: Any = field(default=None, repr=False)
    events: list[SpanEvent] = field(default_factory=list, repr=False)
    resource: dict[str, Any] = field(default_factory=dict, repr=False)  # e.g. service.name


def group_traces(spans: Iterable[Span]) -> dict[str, list[Span]]:
    """Spans by trace id, traces in order of their first span's start time."""
    traces: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    return dict(sorted(traces.items(), key=lambda item: min(s.start for s in item[1])))


class SpanTree:
    """The spans of one trace as a tree, rebuilt from parent ids."""

    def __init__(self, spans: Iterable[Span]) -> None:
        self.by_id: dict[str, Span] = {}
        for span in spans:
            self.by_id.setdefault(span.id, span)  # a duplicated span id keeps its first copy
        self.children: dict[str | None, list[Span]] = defaultdict(list)
        self.orphans: list[Span] = []
        for span in self.by_id.values():
            parent = span.parent_id if span.parent_id in self.by_id else None
            if span.parent_id and parent is None:
                self.orphans.append(span)
            self.children[parent].append(span)
        for siblings in self.children.values():
            siblings.sort(key=lambda s: (s.start, s.end if s.end is not None else s.start))

    @property
    def roots(self) -> list[Span]:
        """Spans without a parent in this trace (true roots and orphans), by start time."""
        return self.children[None]

    def walk(self) -> Iterator[Span]:
        """Every span, parents before children, siblings by start time (execution order).

        Spans caught in a parent cycle (a malformed file) hang under no root; they come last,
        by start time, so none is dropped.
        """
        visited: set[str] = set()
        stack = list(reversed(self.roots))
        while stack:
            span = stack.pop()
            if span.id in visited:
                continue
            visited.add(span.id)
            yield span
            stack.extend(reversed(self.children.get(span.id, [])))
        rest = [s for s in self.by_id.values() if s.id not in visited]
        yield from sorted(rest, key=lambda s: s.start)

    def parent(self, span: Span) -> Span | None:
        return self.by_id.get(span.parent_id) if span.parent_id else None

    def ancestor(self, span: Span, test: Callable[[Span], bool]) -> Span | None:
        """The nearest ancestor of `span` (not `span` itself) for which `test` is true."""
        seen = {span.id}
        node = self.parent(span)
        while node is not None and node.id not in seen:
            if test(node):
                return node
            seen.add(node.id)
            node = self.parent(node)
        return None
