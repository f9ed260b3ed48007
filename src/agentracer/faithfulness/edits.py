"""Replaying a recording with several actions changed at once, and reading the run's risk.

The replay lab's own `replay` changes one call. Deleting the top-n actions changes n, so this
module brings a policy of its own (the lab's `Policy` protocol, run by its public
`run_session`): calls before the first edit are served from the recording (each request checked
against the recorded one), edited calls return their new text, and the other calls after the
first edit go live. Without an upstream every call must be edited (the insertion and Shapley
counterfactuals, which replay recorded or neutral texts only and need no model).

A replay that finished leaves its edits in `edits.json` beside the recording, so an evaluation
interrupted (Ctrl-C, a kill) and run again into the same work directory resumes: a finished
replay with the same edits is reused, anything else in its directory is removed and replayed.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentracer.errors import AgenTracerError
from agentracer.replay import recording as rec
from agentracer.replay.policy import DivergenceError, canonical, describe_divergence, substitute
from agentracer.replay.recording import Origin, Recording
from agentracer.replay.session import Program, run_session
from agentracer.replay.upstream import Upstream
from agentracer.systems.simulation import read_risk


class UnknownActionError(AgenTracerError):
    """A ranking or an edit names an action (model call) the run does not have."""


class SimulationDivergedError(AgenTracerError):
    """A replayed simulation asked its frozen calls something else than the recording did."""


class ReplayFailedError(AgenTracerError):
    """A replayed simulation crashed or timed out, so it has no risk to compare."""


class EditPolicy:
    """Answers call i with `edits[i]` when given; before the first edit, with the recording;
    otherwise live from `upstream` (refused as a divergence when there is none)."""

    def __init__(self, source: Recording, edits: dict[int, str], upstream: Upstream | None):
        self.calls = source.calls()
        outside = sorted(i for i in edits if not 0 <= i < len(self.calls))
        if outside:
            raise UnknownActionError(
                f"actions {outside} are not model calls of the run (0..{len(self.calls) - 1})"
            )
        self.edits, self.upstream = edits, upstream
        self.first = min(edits, default=len(self.calls))
        self.divergence: str | None = None

    def respond(self, index: int, body: dict[str, Any]) -> tuple[dict[str, Any], Origin, bool]:
        if index < len(self.calls) and index <= self.first:
            recorded = self.calls[index]
            if canonical(body) != canonical(recorded.request):
                self.divergence = describe_divergence(index, body, recorded)
                raise DivergenceError(self.divergence)
        if index in self.edits:
            return substitute(self.calls[index].response, self.edits[index]), "substituted", False
        if index < self.first:
            return self.calls[index].response, "recorded", False
        if self.upstream is None:
            self.divergence = f"call {index} is neither edited nor recorded and no model is given"
            raise DivergenceError(self.divergence)
        return self.upstream.complete(body), "live", False


EDITS_FILE = "edits.json"


@dataclass
class EditedRun:
    directory: Path
    recording: Recording
    risk: float
    reused: bool = False  # finished by an earlier, interrupted evaluation


def _marker(edits: dict[int, str], model: str | None) -> dict[str, Any]:
    return {"edits": {str(at): text for at, text in sorted(edits.items())}, "model": model}


def _finished(out_dir: Path, marker: dict[str, Any]) -> EditedRun | None:
    """The replay in `out_dir` when it finished with these edits (see the module docstring)."""
    try:
        saved = json.loads((out_dir / EDITS_FILE).read_text(encoding="utf-8"))
        if saved != marker:
            return None
        done = rec.load(out_dir)
        return EditedRun(out_dir, done, read_risk(out_dir), reused=True)
    except (OSError, ValueError, AgenTracerError):  # not there, torn, not a finished run
        return None


def replay_edited(
    source_dir: Path,
    edits: dict[int, str],
    upstream: Upstream | None,
    out_dir: Path,
    *,
    timeout: float | None = None,
) -> EditedRun:
    """Replay `source_dir` with the calls in `edits` answered by their new text and return the
    run's risk. A divergence, a crash or a timeout is a named error: such a run has no risk.
    A finished replay with the same edits already in `out_dir` is reused."""
    marker = _marker(edits, upstream.name if upstream is not None else None)
    reused = _finished(out_dir, marker)
    if reused is not None:
        return reused
    if out_dir.exists():
        shutil.rmtree(out_dir)  # cut off by an interruption: replayed again
    source = rec.load(source_dir)
    program = Program(
        command=source.command,
        check=source.check,
        cwd=Path(source.cwd),
        timeout=timeout or max(60.0, 3 * source.seconds),
        agent_patterns=source.agent_patterns,
    )
    policy = EditPolicy(source, edits, upstream)
    name = upstream.name if upstream is not None else source.model
    secrets = getattr(upstream, "secrets", ())
    replayed = run_session(program, policy, out_dir, model_name=name, secrets=secrets)
    status = replayed.outcome.status
    if status == "diverged":
        raise SimulationDivergedError(
            f"the replay diverged from the recording ({replayed.outcome.message}); the program "
            "must make the same requests given the same answers (seed it, no clocks)",
            path=out_dir,
        )
    if status in ("crashed", "timeout", "no-calls", "check-missing", "interrupted"):
        raise ReplayFailedError(
            f"the replay ended '{status}': {replayed.outcome.message}", path=out_dir
        )
    risk = read_risk(out_dir)
    tmp = out_dir / f".{EDITS_FILE}.tmp"
    tmp.write_text(json.dumps(marker), encoding="utf-8")
    os.replace(tmp, out_dir / EDITS_FILE)  # written last: the replay is finished
    return EditedRun(out_dir, replayed, risk)
