"""From stored spans to a trajectory, and the decision whether the run failed.

A settled trace is turned back into one OTLP/JSON document (spans grouped under their resource
and scope, as an exporter sent them) and read by the format registry, so the receiver uses the
very importers that read OTLP/JSON files (OpenTelemetry GenAI, OpenInference). The run failed
when the importer says so, when the root span or any agent span has an error status, or when
the user's `--failed-if` rule is true for any span.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentracer.errors import AgenTracerError
from agentracer.formats import parse_document
from agentracer.formats.otlp import attributes
from agentracer.serve.store import SpanRecord
from agentracer.trajectory import Outcome, Trajectory

Assembler = Callable[[dict[str, Any]], list[Trajectory]]
"""OTLP/JSON document -> trajectories (the format registry's `parse_document` by default)."""


def otlp_document(spans: Sequence[SpanRecord]) -> dict[str, Any]:
    """One OTLP/JSON `{"resourceSpans": [...]}` holding `spans` under their resource and scope."""
    groups: dict[str, dict[str, Any]] = {}
    for span in spans:
        resource_key = json.dumps(span.resource, sort_keys=True)
        group = groups.setdefault(resource_key, {"resource": span.resource, "scopes": {}})
        scope_key = json.dumps(span.scope, sort_keys=True)
        scope = group["scopes"].setdefault(scope_key, {"scope": span.scope, "spans": []})
        scope["spans"].append(span.body)
    return {
        "resourceSpans": [
            {"resource": group["resource"], "scopeSpans": list(group["scopes"].values())}
            for group in groups.values()
        ]
    }


def attribute_values(span: dict[str, Any]) -> dict[str, Any]:
    """A span's OTLP/JSON attribute list as a plain dict (`{"key": ..., "value": {...}}` items)."""
    return attributes(span.get("attributes") or [])


def is_agent_span(attributes: dict[str, Any]) -> bool:
    """An agent span in the GenAI conventions (`invoke_agent`) or in OpenInference (`AGENT`)."""
    return (
        attributes.get("gen_ai.operation.name") in ("invoke_agent", "create_agent")
        or attributes.get("openinference.span.kind") == "AGENT"
    )


# -- the --failed-if rule -----------------------------------------------------------------------

_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Compare,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
    ast.Name, ast.Load, ast.Constant, ast.Subscript, ast.Tuple, ast.List,
)  # fmt: skip
_NAMES = ("attributes", "name", "status", "error")


class RuleError(AgenTracerError):
    """A `--failed-if` expression that cannot be used."""


@dataclass(frozen=True)
class FailedIf:
    """A user rule over one span, e.g. `attributes["eval.passed"] == False`.

    The expression is a Python comparison over `attributes` (the span's attributes by key),
    `name` (the span name), `status` ("ERROR", "OK" or "UNSET") and `error` (bool), combined
    with `and`, `or`, `not`; no calls, no attribute access. A key the span lacks makes that
    span's rule false. The run failed when the rule is true for any of its spans.
    """

    expression: str

    def __post_init__(self) -> None:
        try:
            self._check()
        except (RecursionError, MemoryError):  # `not not not …` or `((((…` thousands deep
            raise RuleError(
                f"--failed-if is nested too deeply ({len(self.expression)} characters); "
                "write a flatter rule"
            ) from None

    def _check(self) -> None:
        try:
            tree = ast.parse(self.expression, mode="eval")
        except SyntaxError as error:
            raise RuleError(
                f"--failed-if {self.expression!r:.200} is not an expression ({error.msg})"
            ) from None
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED):
                raise RuleError(
                    f"--failed-if may only compare span fields ({', '.join(_NAMES)}) with "
                    f"constants; {type(node).__name__} is not allowed"
                )
            if isinstance(node, ast.Name) and node.id not in _NAMES:
                raise RuleError(
                    f"--failed-if knows {', '.join(_NAMES)}, not {node.id!r} "
                    'e.g. attributes["eval.passed"] == False'
                )
        object.__setattr__(self, "_code", compile(tree, "<--failed-if>", "eval"))

    def matches(self, span: SpanRecord) -> bool:
        status_code = (span.body.get("status") or {}).get("code", 0)
        scope = {
            "attributes": attribute_values(span.body),
            "name": span.name,
            "status": {0: "UNSET", 1: "OK", 2: "ERROR"}.get(status_code, str(status_code)),
            "error": span.error,
        }
        try:
            return bool(eval(self._code, {"__builtins__": {}}, scope))  # type: ignore[attr-defined]
        except (KeyError, IndexError, TypeError):
            return False


def failure_reasons(
    spans: Sequence[SpanRecord], trajectory: Trajectory | None, rule: FailedIf | None = None
) -> list[str]:
    """Why the run counts as failed (empty: it did not fail)."""
    reasons = []
    if trajectory is not None and trajectory.outcome is Outcome.FAILURE:
        reasons.append("the importer read a failed outcome")
    for span in spans:
        if span.error and span.parent_id is None:
            reasons.append(f"root span {span.name!r} has an error status")
        elif span.error and is_agent_span(attribute_values(span.body)):
            reasons.append(f"agent span {span.name!r} has an error status")
        if rule is not None and rule.matches(span):
            reasons.append(f"--failed-if is true for span {span.name!r}")
    return list(dict.fromkeys(reasons))


def assemble(
    trace_id: str, spans: Sequence[SpanRecord], assembler: Assembler | None = None
) -> Trajectory:
    """The trajectory of one trace, read by the registered OTLP/JSON importers."""
    parse = assembler or (lambda document: parse_document(document, name=f"trace {trace_id}"))
    trajectories = parse(otlp_document(spans))
    if not trajectories:
        raise AgenTracerError(f"trace {trace_id} holds no run the importers could read")
    trajectory = trajectories[0]
    if len(trajectories) > 1:  # one trace id should be one run; keep the others visible
        trajectory.notes.append(f"the importer found {len(trajectories)} runs; showing the first")
    return trajectory
