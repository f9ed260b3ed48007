"""A recording of the replay lab as a `Trajectory`, so every tracer can read it.

Steps are the agents' model outputs, in call order, with the tool results the program reported
between them. The trajectory's metadata maps each agent step to its model-call index (the `T`
of `agentracer replay --at T`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from agentracer.errors import TraceFormatError
from agentracer.formats.recording import ModelCall, Recording, is_recording, load
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.trajectory import Outcome, Source, Step, StepKind, ToolCall, Trajectory

FORMAT = "agentracer-recording"


def _tool_calls(call: ModelCall) -> list[ToolCall]:
    calls = []
    for raw in call.tool_calls():
        function = raw.get("function") or {}
        calls.append(
            ToolCall(
                id=raw.get("id"),
                name=str(function.get("name", "")),
                arguments=str(function.get("arguments", "")),
            )
        )
    return calls


def _content(call: ModelCall, tool_calls: list[ToolCall]) -> str:
    text = call.content()
    if tool_calls:
        rendered = "\n".join(f"[calls {t.name}({t.arguments})]" for t in tool_calls)
        text = f"{text}\n{rendered}".strip()
    return text


def to_trajectory(recording: Recording, *, path: str | Path | None = None) -> Trajectory:
    """The trajectory of a recorded run; a recording without model calls is an error."""
    steps: list[Step] = []
    call_steps: dict[str, int] = {}
    for event in recording.events:
        index = len(steps)
        if isinstance(event, ModelCall):
            tool_calls = _tool_calls(event)
            steps.append(
                Step(index=index, agent=event.agent, speaker=event.agent, kind=StepKind.AGENT,
                     content=_content(event, tool_calls), role="assistant", tool_calls=tool_calls)
            )  # fmt: skip
            call_steps[str(index)] = event.index
        else:
            steps.append(
                Step(index=index, agent=event.agent, speaker=event.agent, kind=StepKind.TOOL,
                     content=event.content, role="tool")
            )  # fmt: skip
    if not steps:
        raise TraceFormatError(
            f"the recording has no model calls (status: {recording.outcome.status})", path=path
        )
    success = recording.outcome.success
    outcome = (
        Outcome.UNKNOWN if success is None else Outcome.SUCCESS if success else Outcome.FAILURE
    )
    return Trajectory(
        id=f"recording-{recording.id}",
        question=recording.task.question,
        ground_truth=recording.task.ground_truth,
        steps=steps,
        agents=list(dict.fromkeys(s.agent for s in steps if s.kind is StepKind.AGENT)),
        outcome=outcome,
        metadata={
            "recording": recording.id,
            "status": recording.outcome.status,
            "model": recording.model,
            "call_steps": call_steps,
        },
        source=Source(format=FORMAT, path=None if path is None else str(path), record=recording.id),
    )


def call_index(trajectory: Trajectory, step: int) -> int:
    """The model-call index of agent step `step` of a recording's trajectory."""
    mapping = trajectory.metadata.get("call_steps") or {}
    if str(step) not in mapping:
        raise TraceFormatError(f"step {step} of {trajectory.id} is not a model call")
    return int(mapping[str(step)])


def step_index(trajectory: Trajectory, call: int) -> int:
    """The trajectory step of model call `call`."""
    for step, index in (trajectory.metadata.get("call_steps") or {}).items():
        if int(index) == call:
            return int(step)
    raise TraceFormatError(f"{trajectory.id} has no model call {call}")


@register_format(
    FORMAT,
    summary="a run recorded by `agentracer record` (the directory, or its recording.json)",
    priority=5,
)
class RecordingFormat:
    def detect(self, probe: Probe) -> bool:
        return is_recording(probe.path)

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        try:
            yield to_trajectory(load(probe.path), path=probe.path)
        except TraceFormatError as error:
            yield error

    def near_miss(self, probe: Probe) -> str | None:
        path = probe.path
        if path.is_dir() and any(path.glob("*/recording.json")):
            return "the recordings are one level down (give one recording directory)"
        return None
