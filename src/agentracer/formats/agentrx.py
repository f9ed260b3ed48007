"""AgentRx ground truth (microsoft/AgentRx, arXiv 2602.02475): several annotated failures per
run and one root cause, joined with the logs they annotate.

A ground-truth file is a JSON list of `{trajectory_id, failures: [{failure_id, step_number,
failed_agent, failure_category, step_reason, ...}], root_cause: {failure_id, ...},
failure_summary}`. The logs live beside it, under the dataset's `data/` folder:

- Magentic-One runs: `magentic_dataset/<trajectory_id>.json`, a `[{content, role}]` list, the
  same logs as Who&When's hand-crafted histories (read exactly as Who&When reads them, so the
  two are one system with one step numbering). `step_number` is the 1-based position of the
  message in that list: step = `step_number` - 1. Checked on the real files: the root cause's
  agent is the speaker of that message in 43 of 44 runs (0-based `step_number` itself: 19; the
  other root cause sits on "Next speaker Assistant", just before the Assistant's answer),
  its texts match (a FileSurfer "Error 404" on the file it hallucinated; an instruction that
  leaves out what the user asked for), and Who&When's label sits on the same step in 16 runs
  (2 with the other reading).
- tau-bench retail runs: `tau_retail/tau_dataset_failed.json` (else `tau_dataset_full.json`),
  keyed by `task_id`. `step_number` is the message's own `index` (1-based, the system policy
  at 1): step = the step whose source id is that index, i.e. `index` - 2 once the policy is
  the run's context. Checked: the message at that index is from the annotated agent in 38 of
  39 failures (the other marks the assistant's silence after the last user turn).

The decisive failure is the root cause; a failure whose agent did not act at its step is kept
(the run is flagged `agent_step_mismatch`), and a root cause on the simulated user is kept
and flagged `gold_agent_not_blamable` (see `who_and_when.label_flags`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats.chat import listing, mapping
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.formats.tau_bench import parse_result
from agentracer.formats.who_and_when import label_flags, parse_record
from agentracer.naming import same_agent
from agentracer.trajectory import AnnotatedFailure, Label, Provenance, Trajectory

FORMAT = "agentrx"
MAGENTIC = "agentrx-magentic"
TAU_RETAIL = "tau-retail"
MAGENTIC_LOGS = "magentic_dataset"
TAU_LOGS = ("tau_retail/tau_dataset_failed.json", "tau_retail/tau_dataset_full.json")


def is_ground_truth(obj: object) -> bool:
    """An AgentRx ground-truth record: a run id, a `failures` list and a `root_cause`."""
    return (
        isinstance(obj, dict)
        and "trajectory_id" in obj
        and isinstance(obj.get("failures"), list)
        and isinstance(obj.get("root_cause"), dict)
    )


def provenance(record: dict[str, Any], source: str) -> Provenance:
    root = mapping(record.get("root_cause"))
    return Provenance(
        method="human-annotation",
        source=source,
        details={
            "root_cause_reason": str(root.get("reason_for_root_cause") or ""),
            "failure_summary": str(record.get("failure_summary") or ""),
        },
    )


StepOf = Callable[[int], int]
"""Maps an annotation's `step_number` to the trajectory's 0-based step (raises ValueError)."""


def attach_label(trajectory: Trajectory, record: dict[str, Any], step_of: StepOf) -> Trajectory:
    """`trajectory` labelled by the ground-truth `record`: the root cause is the decisive
    failure, every failure is kept in `failures`. Raises ValueError on a label that does not
    fit the run (a step outside it, a root cause that names no failure)."""
    failures = []
    by_id: dict[str, AnnotatedFailure] = {}
    for raw in listing(record.get("failures")):
        if not isinstance(raw, dict):
            raise ValueError("a failure is not a JSON object")
        number = raw.get("step_number")
        if isinstance(number, bool) or not isinstance(number, int):
            raise ValueError(
                f"failure {raw.get('failure_id')}: step_number {number!r} is not an integer"
            )
        step = step_of(number)
        named = str(raw.get("failed_agent") or "")
        failure = AnnotatedFailure(
            agent=_spelling(trajectory, named, step),
            step=step,
            category=raw.get("failure_category") or None,
            reason=str(raw.get("step_reason") or ""),
        )
        failures.append(failure)
        by_id[str(raw.get("failure_id"))] = failure
    root_id = str(mapping(record.get("root_cause")).get("failure_id"))
    if root_id not in by_id:
        raise ValueError(f"the root cause names failure {root_id}, which is not among the failures")
    root = by_id[root_id]
    trajectory.label = Label(
        agent=root.agent,
        step=root.step,
        reason=root.reason,
        provenance=provenance(record, FORMAT),
        failures=failures,
    )
    trajectory.flags = [*trajectory.flags, *label_flags(trajectory)]
    return trajectory


def _spelling(trajectory: Trajectory, name: str, step: int) -> str:
    """The run's own spelling of an annotated agent (`Websurfer` is `WebSurfer`, `User` the
    simulated `user`), else the name as annotated."""
    own = trajectory.match_agent(name)
    if own is not None:
        return own
    for candidate in trajectory.steps:
        if same_agent(candidate.agent, name):
            return candidate.agent
    return name


def magentic_run(record: dict[str, Any], logs: Path, *, subset: str = MAGENTIC) -> Trajectory:
    """The labelled Magentic-One run of one ground-truth record, read from `logs/<id>.json`."""
    run_id = str(record["trajectory_id"])
    path = logs / f"{run_id}.json"
    try:
        history = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TraceFormatError(f"the log of run {run_id} is not in {logs}", path=path) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise TraceFormatError(f"not valid JSON ({error})", path=path) from None
    question = next(
        (
            str(m.get("content") or "")
            for m in listing(history)
            if isinstance(m, dict) and m.get("role") == "human"
        ),
        "",
    )
    trajectory = parse_record(
        {"history": history, "question": question, "question_ID": run_id},
        trajectory_id=f"{subset}/{run_id}",
        subset=subset,
        path=str(path),
        source_format=FORMAT,
        provenance=provenance(record, FORMAT),
        keep_raw=False,
    )
    n = len(trajectory.steps)

    def step_of(number: int) -> int:
        if not 1 <= number <= n:
            raise ValueError(f"step_number {number} is outside the log (messages 1..{n})")
        return number - 1

    return _labelled(trajectory, record, step_of, path)


def tau_run(record: dict[str, Any], runs: dict[str, tuple[Path, dict[str, Any]]]) -> Trajectory:
    """The labelled tau-bench run of one ground-truth record; `runs` maps task ids to their
    (file, result record)."""
    run_id = str(record["trajectory_id"])
    if run_id not in runs:
        raise TraceFormatError(f"no tau-bench result with task_id {run_id} beside the ground truth")
    path, result = runs[run_id]
    trajectory = parse_result(
        result, trajectory_id=f"{TAU_RETAIL}/{run_id}", path=path, record_key=run_id
    )
    assert trajectory.source is not None
    trajectory.source.subset = TAU_RETAIL
    by_index = {step.source_id: step.index for step in trajectory.steps}

    def step_of(number: int) -> int:
        if str(number) not in by_index:
            raise ValueError(
                f"step_number {number} is no step of the run (the system policy, or past "
                f"its {len(trajectory.steps) + 1} messages)"
            )
        return by_index[str(number)]

    return _labelled(trajectory, record, step_of, path)


def _labelled(
    trajectory: Trajectory, record: dict[str, Any], step_of: StepOf, path: Path
) -> Trajectory:
    try:
        return attach_label(trajectory, record, step_of)
    except ValueError as error:
        message = str(error).splitlines()[0]
        raise TraceFormatError(
            f"ground truth of run {record.get('trajectory_id')}: {message}", path=path
        ) from None


def tau_results(data: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Every tau-bench result record under AgentRx's `data/` folder, keyed by task id (the
    failed-runs file first: it holds two runs the full file lacks)."""
    runs: dict[str, tuple[Path, dict[str, Any]]] = {}
    for name in TAU_LOGS:
        path = data / name
        if not path.is_file():
            continue
        for result in listing(json.loads(path.read_text(encoding="utf-8"))):
            if isinstance(result, dict) and "task_id" in result:
                runs.setdefault(str(result["task_id"]), (path, result))
    return runs


def read_ground_truth(
    records: list[tuple[str, Any]], data: Path
) -> Iterator[Trajectory | TraceFormatError]:
    """The labelled runs of a ground-truth file's records; `data` is AgentRx's `data/` folder."""
    tau: dict[str, tuple[Path, dict[str, Any]]] | None = None
    for key, record in records:
        if not is_ground_truth(record):
            yield TraceFormatError("not an AgentRx ground-truth record", path=f"{data}#{key}")
            continue
        try:
            if isinstance(record["trajectory_id"], int):
                tau = tau_results(data) if tau is None else tau
                yield tau_run(record, tau)
            else:
                yield magentic_run(record, data / MAGENTIC_LOGS)
        except TraceFormatError as error:
            yield error


@register_format(
    FORMAT,
    summary="AgentRx ground truth ({trajectory_id, failures, root_cause}) with the "
    "Magentic-One or tau-bench logs beside it (data/ground_truth/*.json)",
    priority=24,
)
class AgentRxFormat:
    def detect(self, probe: Probe) -> bool:
        return is_ground_truth(probe.first())

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        # data/ground_truth/<file>.json: the logs are under data/
        yield from read_ground_truth(probe.records(), probe.path.resolve().parent.parent)

    def near_miss(self, probe: Probe) -> str | None:
        first = probe.first()
        if isinstance(first, dict) and "trajectory_id" in first and "failures" in first:
            return "its 'failures' is not a list or it has no 'root_cause' object"
        return None
