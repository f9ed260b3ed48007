"""Trajectories from Python objects a program already holds: an OTLP/JSON document, a list of
chat messages, or a framework's own result object, read by the same registered formats as
files (`formats.registry.parse_document`).

A framework object is first turned into the JSON its documented dump would give: a pydantic
model by `model_dump(mode="json")` (AutoGen's `TaskResult`, LangChain messages), a dataclass
field by field (AG2's `ChatResult`), a smolagents agent by `agent.memory.get_full_steps()`;
mappings and sequences are walked. The registry then detects the format as for a file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats.registry import parse_document
from agentracer.trajectory import Trajectory

_DEPTH = 64  # deeper than any run dump; guards against cycles between objects


def to_document(obj: Any, depth: int = 0) -> Any:
    """`obj` as plain JSON values (dicts, lists, strings, numbers, booleans, None)."""
    if depth > _DEPTH:
        raise TraceFormatError("the object is nested too deeply (or refers to itself)")
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, Mapping):
        return {str(key): to_document(value, depth + 1) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_document(item, depth + 1) for item in obj]
    full_steps = getattr(getattr(obj, "memory", None), "get_full_steps", None)
    if callable(full_steps):  # a smolagents agent after a run
        return to_document(full_steps(), depth + 1)
    if callable(getattr(obj, "model_dump", None)):  # pydantic: AutoGen, LangChain, ...
        return to_document(obj.model_dump(mode="json"), depth + 1)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return to_document(fields, depth + 1)
    raise TraceFormatError(
        f"cannot read a {type(obj).__name__} object as a run: give a path, a Trajectory, an "
        "OTLP/JSON document, a list of chat messages, or a framework result (AutoGen "
        "TaskResult, AG2 ChatResult, LangGraph state, smolagents agent)"
    )


def trajectories_from_object(obj: Any, *, name: str | None = None) -> list[Trajectory]:
    """Every trajectory in an in-memory object (see the module docstring)."""
    label = name or f"<{type(obj).__name__}>"
    return parse_document(to_document(obj), name=label)
