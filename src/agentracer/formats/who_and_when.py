"""The Who&When record schema: read one record into a `Trajectory`, write one back.

A record is `{question, ground_truth, history: [{content, role[, name]}], mistake_agent,
mistake_step, mistake_reason, ...}`. TracerTraj and our own `annotate` output use the same
schema. Speaker rules:

- Algorithm-Generated (AG2/CaptainAgent) entries carry the speaker in `name`; `role` is only the
  chat role (`user`/`assistant`).
- Hand-Crafted (Magentic-One) entries carry the speaker in `role`, with a channel suffix:
  `Orchestrator (thought)` and `Orchestrator (-> WebSurfer)` are the agent `Orchestrator`.
- `human` is the user. `Computer_terminal` (AG2) and `ComputerTerminal` (Magentic-One) execute
  code without a model; they are tools, never blamable agents.
- `mistake_step` is a 0-based index into `history`, stored as a string.
- A `system` entry (`role: "system"`, a system prompt or a policy) is the run's context, not a
  step: the steps after it are renumbered, and `mistake_step` with them (a label on the system
  entry itself is an error: no agent wrote it). `to_record` writes the context back as the
  first entry, so a record whose system entries come first reads back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from agentracer.errors import TraceFormatError
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.formats.text import check_depth
from agentracer.naming import normalise_agent, same_agent, speaker_agent
from agentracer.trajectory import Label, Outcome, Provenance, Source, Step, StepKind, Trajectory

FORMAT = "who-and-when"

USER_SPEAKERS = frozenset({"human", "user"})
TOOL_SPEAKERS = frozenset({"computerterminal"})

FLAG_AGENT_STEP_MISMATCH = "agent_step_mismatch"
"""The labelled agent did not act at the labelled step (6 Who&When records)."""
FLAG_GOLD_AGENT_UNKNOWN = "gold_agent_not_among_agents"
FLAG_GOLD_NOT_BLAMABLE = "gold_agent_not_blamable"
"""The gold agent is a user or a tool (tau-bench's simulated user): no tracer can name it, so
such a run is reported apart, never silently scored as a miss."""

_LABEL_KEYS = ("mistake_agent", "mistake_step", "mistake_reason")
_CORE_KEYS = frozenset({"history", "question", "ground_truth", "groundtruth", *_LABEL_KEYS})


def is_record(obj: object) -> bool:
    """True when `obj` looks like a Who&When-schema record (a dict with a `history` list)."""
    return isinstance(obj, dict) and isinstance(obj.get("history"), list)


def step_kind(speaker: str) -> StepKind:
    """Classify a raw speaker string as agent, user or tool by the rules above."""
    key = normalise_agent(speaker)
    if key in USER_SPEAKERS:
        return StepKind.USER
    if key in TOOL_SPEAKERS:
        return StepKind.TOOL
    return StepKind.AGENT


def is_system_entry(entry: object) -> bool:
    """A history entry that holds the run's context (`role: "system"`), not a step."""
    return isinstance(entry, dict) and entry.get("role") == "system" and not entry.get("name")


def parse_step(entry: object, index: int) -> Step:
    """Read `history[index]`; the speaker is `name` when present, else `role`."""
    if not isinstance(entry, dict):
        raise ValueError(f"history[{index}] is not an object")
    name, role = entry.get("name"), entry.get("role")
    if name:
        speaker, chat_role = str(name), (None if role is None else str(role))
    elif role:
        speaker, chat_role = str(role), None
    else:
        raise ValueError(f"history[{index}] names no speaker (no 'name' or 'role')")
    content = entry.get("content")
    # The OpenAI `tool` role marks a tool result (our recordings write it; Who&When never does).
    kind = StepKind.TOOL if chat_role == "tool" else step_kind(speaker)
    return Step(
        index=index,
        agent=speaker_agent(speaker),
        speaker=speaker,
        kind=kind,
        content="" if content is None else str(content),
        role=chat_role,
    )


def _missing_content_notes(history: list[Any]) -> list[str]:
    """A note naming the entries without `content` (read as empty), never a silent default."""
    missing = [
        i for i, entry in enumerate(history) if isinstance(entry, dict) and "content" not in entry
    ]
    if not missing:
        return []
    listed = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
    return [
        f"history entr{'y' if len(missing) == 1 else 'ies'} {listed} had no 'content' (read as empty)"
    ]


def parse_label(
    record: dict[str, Any],
    n_steps: int,
    provenance: Provenance,
    step_of: dict[int, int] | None = None,
) -> Label | None:
    """The gold label, or None for an unlabelled record; a malformed step is an error.

    `step_of` maps history positions to steps when system entries were taken out of the
    history (see the module docstring); by default they are the same."""
    if record.get("mistake_agent") in (None, "") and record.get("mistake_step") in (None, ""):
        return None
    raw_step = record.get("mistake_step")
    try:
        step = int(str(raw_step).strip())
    except ValueError:
        raise ValueError(f"mistake_step {raw_step!r} is not an integer") from None
    if step_of is not None:
        entries = len(record["history"])
        if not 0 <= step < entries:
            raise ValueError(
                f"mistake_step {step} is outside the history (entries 0..{entries - 1})"
            )
        if step not in step_of:
            raise ValueError(
                f"mistake_step {step} is a system entry (the run's context), not a step"
            )
        step = step_of[step]
    if not 0 <= step < n_steps:
        raise ValueError(f"mistake_step {step} is outside the history (steps 0..{n_steps - 1})")
    return Label(
        agent=str(record.get("mistake_agent") or ""),
        step=step,
        reason=str(record.get("mistake_reason") or ""),
        provenance=provenance,
    )


def recorded_provenance(record: dict[str, Any]) -> Provenance | None:
    """The `provenance` our builder writes beside a record (a JSON object, or its text in parquet)."""
    value = record.get("provenance")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("provenance is not valid JSON") from None
    return None if value is None else Provenance.model_validate(value)


def label_flags(trajectory: Trajectory) -> list[str]:
    """Known label problems: the gold agent did not act at the gold step, never acted, or is
    not blamable (only acted as a user or tool)."""
    label = trajectory.label
    if label is None:
        return []
    flags = []
    if not same_agent(label.agent, trajectory.steps[label.step].agent):
        flags.append(FLAG_AGENT_STEP_MISMATCH)
    if trajectory.match_agent(label.agent) is None:
        acts = any(
            same_agent(label.agent, step.agent) and step.kind is not StepKind.AGENT
            for step in trajectory.steps
        )
        flags.append(FLAG_GOLD_NOT_BLAMABLE if acts else FLAG_GOLD_AGENT_UNKNOWN)
    return flags


def parse_record(
    record: object,
    *,
    trajectory_id: str | None = None,
    subset: str | None = None,
    path: str | None = None,
    record_key: str | None = None,
    source_format: str = FORMAT,
    provenance: Provenance | None = None,
    keep_raw: bool = True,
) -> Trajectory:
    """Turn one Who&When-schema record into a `Trajectory`.

    Raises `TraceFormatError` (naming `path`) for a record without history, with zero steps,
    with an unreadable speaker or with a `mistake_step` outside the history. Top-level keys
    other than the question, answer, history and label go to `metadata` verbatim, so
    `to_record` gives the record back unchanged.
    """
    where = f"{path}#{record_key}" if path and record_key else path or record_key
    if not is_record(record):
        raise TraceFormatError("not a Who&When record: no 'history' list", path=where)
    assert isinstance(record, dict)
    try:
        check_depth(record)
        history = record["history"]
        kept = [i for i, entry in enumerate(history) if not is_system_entry(entry)]
        steps = [parse_step(history[i], step) for step, i in enumerate(kept)]
        context = "\n\n".join(
            str(entry.get("content") or "") for entry in history if is_system_entry(entry)
        )
        notes = _missing_content_notes(history)
        if len(kept) < len(history):
            notes.append("the system entry is kept as the run's context, not as a step")
        if not steps:
            raise ValueError("the trajectory has zero steps")
        provenance = (
            provenance
            or recorded_provenance(record)
            or Provenance(method="unspecified", source=path)
        )
        step_of = None if len(kept) == len(history) else {i: n for n, i in enumerate(kept)}
        label = parse_label(record, len(steps), provenance, step_of)
        agents = list(dict.fromkeys(s.agent for s in steps if s.kind is StepKind.AGENT))
        ground_truth = record.get("ground_truth", record.get("groundtruth"))
        trajectory = Trajectory(
            id=trajectory_id or str(record.get("question_ID") or record_key or "trajectory"),
            question=str(record.get("question") or ""),
            ground_truth=None if ground_truth is None else str(ground_truth),
            context=context,
            steps=steps,
            agents=agents,
            outcome=Outcome.SUCCESS if record.get("is_correct") is True else Outcome.FAILURE,
            label=label,
            notes=notes,
            metadata={k: v for k, v in record.items() if k not in _CORE_KEYS},
            source=Source(
                format=source_format,
                subset=subset,
                path=path,
                record=record_key,
                raw=record if keep_raw else None,
            ),
        )
    except (ValueError, ValidationError) as error:
        raise TraceFormatError(_first_error(error), path=where) from None
    trajectory.flags = label_flags(trajectory)
    return trajectory


def to_record(trajectory: Trajectory, *, step_numbers: bool = False) -> dict[str, Any]:
    """Write a trajectory in the Who&When schema (the inverse of `parse_record`).

    Speakers that came from `role` (Hand-Crafted style, `Step.role is None`) are written to
    `role`; others to `name` beside their chat role. `step_numbers` adds each entry's 0-based
    `step`, as TracerTraj does.
    """
    history: list[dict[str, Any]] = []
    if trajectory.context:
        history.append({"content": trajectory.context, "role": "system"})
    for step in trajectory.steps:
        entry: dict[str, Any] = {"content": step.content}
        if step.role is None:
            entry["role"] = step.speaker
        else:
            entry["role"] = step.role
            entry["name"] = step.speaker
        if step_numbers:
            entry["step"] = step.index
        history.append(entry)
    record: dict[str, Any] = {"question": trajectory.question}
    if trajectory.ground_truth is not None:
        record["ground_truth"] = trajectory.ground_truth
    record["history"] = history
    if trajectory.label is not None:
        record["mistake_agent"] = trajectory.label.agent
        record["mistake_step"] = str(trajectory.label.step + (1 if trajectory.context else 0))
        record["mistake_reason"] = trajectory.label.reason
    record.update(trajectory.metadata)
    return record


def _first_error(error: ValueError | ValidationError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(error)


@register_format(
    FORMAT,
    summary="Who&When-schema records ({question, history, mistake_agent, mistake_step}); "
    "TracerTraj JSON and `annotate` output too",
    priority=20,
)
class WhoAndWhenFormat:
    def detect(self, probe: Probe) -> bool:
        return is_record(probe.first())

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        records = probe.records()
        single = len(records) == 1
        for key, obj in records:
            try:
                yield parse_record(
                    obj,
                    trajectory_id=probe.path.stem if single else None,
                    path=str(probe.path),
                    record_key=key or None,
                )
            except TraceFormatError as error:
                yield error

    def near_miss(self, probe: Probe) -> str | None:
        first = probe.first()
        if isinstance(first, dict) and "history" in first:
            return f"its 'history' is a JSON {type(first['history']).__name__}, not a list"
        if isinstance(first, dict) and {"mistake_agent", "mistake_step"} & set(first):
            return "it has a label but no 'history' list"
        return None
