"""Span trees: the shape shared by every tracing format (OTel, OpenInference, the Agents SDK,
LangSmith, Langfuse).

An importer turns its records into `Span`s (id, parent id, trace id, start and end times,
attributes, error status); `group_traces` splits them by trace, and `SpanTree` rebuilds the tree
from parent ids whatever order the spans came in, walks it in execution order (children by
start time) and finds a span's nearest ancestor that satisfies a test (e.g. the enclosing agent
span). A span whose parent is not in the file is kept as a root and reported in `orphans`, so
the importer can say so in a note instead of dropping it. A loop of parent ids (a span that is
its own parent, or A under B under A: a malformed or hostile file) is cut once, when the tree is
built, at the loop's earliest span, which becomes a root and is reported in `cut`; every later
walk up the tree (`parent`, `ancestor`) then ends, whatever the caller does.
"""

from __future__ import annotations

import heapq
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
        self.orphans: list[Span] = []
        self._parent: dict[str, str] = {}  # span id -> the parent id the tree uses (in by_id)
        for span in self.by_id.values():
            if span.parent_id in self.by_id:
                self._parent[span.id] = span.parent_id  # type: ignore[assignment]
            elif span.parent_id:
                self.orphans.append(span)
        self.cut: list[Span] = self._cut_loops()
        self.children: dict[str | None, list[Span]] = defaultdict(list)
        for span in self.by_id.values():
            self.children[self._parent.get(span.id)].append(span)
        for siblings in self.children.values():
            siblings.sort(key=lambda s: (s.start, s.end if s.end is not None else s.start))

    def _cut_loops(self) -> list[Span]:
        """Break every loop of parent ids at its earliest span (by start, then id), which
        becomes a root; the spans cut, in the order found. Linear: each span is climbed once."""
        state: dict[str, int] = {}  # 1: on the path being climbed, 2: known to reach a root
        cut: list[Span] = []
        for start_id in self.by_id:
            path: list[str] = []
            node: str | None = start_id
            while node is not None and node not in state:
                state[node] = 1
                path.append(node)
                node = self._parent.get(node)
            if node is not None and state[node] == 1:  # the climb came back onto its own path
                loop = [self.by_id[i] for i in path[path.index(node) :]]
                first = min(loop, key=lambda s: (s.start, s.id))
                del self._parent[first.id]
                cut.append(first)
            for span_id in path:
                state[span_id] = 2
        return cut

    @property
    def roots(self) -> list[Span]:
        """Spans without a parent in this trace (true roots and orphans), by start time."""
        return self.children[None]

    def walk(self) -> Iterator[Span]:
        """Every span, parents before children, siblings by start time (execution order).

        Several roots (orphans beside the true root, e.g. an agent whose own span was not
        exported) are interleaved by start time, each walked in its own order: a harness call
        made after an orphaned agent's work comes after it, not before.
        """
        roots = self.roots
        if len(roots) == 1:
            yield from self._subtree(roots[0])
            return
        yield from heapq.merge(*(self._subtree(root) for root in roots), key=lambda s: s.start)

    def _subtree(self, root: Span) -> Iterator[Span]:
        stack = [root]
        while stack:
            span = stack.pop()
            yield span
            stack.extend(reversed(self.children.get(span.id, [])))

    def parent(self, span: Span) -> Span | None:
        """The span's parent in this tree: None for roots, orphans and the spans `cut`."""
        parent_id = self._parent.get(span.id)
        return None if parent_id is None else self.by_id[parent_id]

    def ancestor(self, span: Span, test: Callable[[Span], bool]) -> Span | None:
        """The nearest ancestor of `span` (not `span` itself) for which `test` is true."""
        node = self.parent(span)
        while node is not None:
            if test(node):
                return node
            node = self.parent(node)
        return None
