"""The trace page of one trajectory or recording, as a single self-contained HTML file.

A recording made by `agentracer replay` is shown as the original run with the replayed one
beside it from the changed step on, so the effect of the fix can be read step by step.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from agentracer.errors import AgenTracerError
from agentracer.formats import load_one
from agentracer.formats import recording as recordings
from agentracer.formats.recorded_run import step_index, to_trajectory
from agentracer.serve.pages import (
    Comparison,
    TracePage,
    lanes_of,
    render_trace,
    step_views,
    trace_page,
)
from agentracer.trajectory import Trajectory, Verdict


def read_verdicts(path: Path) -> list[Verdict]:
    """Verdicts from a file: one verdict (`attribute --json`), a list of them, a results line
    with a `verdict` key, or `traces show --json` output (`verdicts`)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AgenTracerError("no such verdict file", path=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise AgenTracerError(f"the verdict file is not JSON ({error})", path=path) from None
    if isinstance(document, dict) and "verdicts" in document:
        items = document["verdicts"]
    elif isinstance(document, dict) and "verdict" in document:
        items = [document["verdict"]]
    else:
        items = document if isinstance(document, list) else [document]
    try:
        return [Verdict.model_validate(item) for item in items]
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise AgenTracerError(
            f"not a verdict ({where}: {first['msg']}); give the output of `attribute --json`",
            path=path,
        ) from None


def _check_verdicts(trajectory: Trajectory, verdicts: list[Verdict]) -> list[str]:
    problems = []
    for verdict in verdicts:
        if verdict.step is not None and verdict.step >= len(trajectory.steps):
            problems.append(
                f"the verdict of {verdict.tracer or 'the tracer'} names step {verdict.step}, "
                f"but the run has steps 0..{len(trajectory.steps) - 1}: is it for this run?"
            )
    return problems


def recording_page(directory: Path, verdicts: list[Verdict]) -> TracePage:
    """A recording's page. For a replay, the original run with the replay beside it; for an
    original, the same with the replay of it found beside it (a successful one first)."""
    recording = recordings.load(directory)
    info = recording.replay
    if info is None:
        replay_dir = find_replay(directory)
        if replay_dir is None:
            return _page(
                to_trajectory(recording, path=directory), verdicts, facts=_facts(recording)
            )
        return _comparison_page(
            directory, recording, replay_dir, recordings.load(replay_dir), verdicts
        )
    source = Path(info.source)
    if not recordings.is_recording(source):
        source = directory.parent / source.name  # the runs directory was moved
    if not recordings.is_recording(source):
        page = _page(to_trajectory(recording, path=directory), verdicts, facts=_facts(recording))
        page.problems.append(f"the original recording {info.source} is not here to compare with")
        return page
    return _comparison_page(source, recordings.load(source), directory, recording, verdicts)


def find_replay(original: Path) -> Path | None:
    """A replay of `original` among the recordings beside it (a successful one first)."""
    found: list[tuple[bool, str, Path]] = []
    for candidate in sorted(original.parent.iterdir()):
        whole = candidate / recordings.RECORDING_FILE
        if candidate == original or not whole.is_file():
            continue
        try:
            document = json.loads(whole.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            continue
        source = (document.get("replay") or {}).get("source")
        if source and Path(source).name == original.name:
            success = (document.get("outcome") or {}).get("success") is True
            found.append((not success, candidate.name, candidate))
    return min(found)[2] if found else None


def _comparison_page(
    original_dir: Path,
    original: recordings.Recording,
    replay_dir: Path,
    replayed: recordings.Recording,
    verdicts: list[Verdict],
) -> TracePage:
    assert replayed.replay is not None
    info = replayed.replay
    original_trajectory = to_trajectory(original, path=original_dir)
    replayed_trajectory = to_trajectory(replayed, path=replay_dir)
    at = step_index(replayed_trajectory, info.at)
    comparison = Comparison(
        at=at,
        original=step_views(original_trajectory, None, lanes_of(original_trajectory))[at:],
        replayed=step_views(replayed_trajectory, None, lanes_of(replayed_trajectory))[at:],
        original_outcome=original.outcome.status,
        replayed_outcome=replayed.outcome.status,
        substituted=info.content,
    )
    facts = [*_facts(original), ("replayed in", str(replay_dir))]
    if original.outcome.success is False and replayed.outcome.success is True:
        facts.append(
            ("proven by replay", f"changing step {at} alone turns the failed run into a success")
        )
    if info.divergence:
        facts.append(("divergence", info.divergence))
    return _page(original_trajectory, verdicts, facts=facts, comparison=comparison)


def _facts(recording: recordings.Recording) -> list[tuple[str, str]]:
    return [
        ("recording", recording.id),
        ("status", recording.outcome.status),
        ("model", recording.model),
        ("command", " ".join(recording.command)),
    ]


def _page(
    trajectory: Trajectory,
    verdicts: list[Verdict],
    *,
    facts: list[tuple[str, str]] | None = None,
    comparison: Comparison | None = None,
) -> TracePage:
    return trace_page(
        trajectory, verdicts, facts=facts, comparison=comparison,
        problems=_check_verdicts(trajectory, verdicts),
    )  # fmt: skip


def trajectory_report(path: Path, verdicts: list[Verdict], *, index: int | None = None) -> str:
    """The HTML trace page of a trajectory file or a recording directory."""
    if path.is_dir() and recordings.is_recording(path):
        page = recording_page(path, verdicts)
    else:
        trajectory = load_one(path, index)
        page = _page(trajectory, verdicts, facts=[("file", str(path))])
    return render_trace(page)
