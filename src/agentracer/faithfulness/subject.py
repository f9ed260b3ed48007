"""The run under study: a simulation recording, its actions, its neutral action, and the
replays made of it (counted, because replays are what attribution costs)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from agentracer.errors import AgenTracerError
from agentracer.faithfulness.edits import EditedRun, UnknownActionError, replay_edited
from agentracer.replay import recording as rec
from agentracer.replay.recording import Recording
from agentracer.replay.upstream import Upstream
from agentracer.systems import simulation
from agentracer.systems.simulation import read_risk

# The documented neutral action of each simulation, found from the recorded command.
NEUTRAL_ACTIONS = {
    "agentracer.systems.social_network": simulation.NEUTRAL_ACTION,
    "agentracer.systems.economy": simulation.NEUTRAL_ACTION,
    "agentracer.systems.market": simulation.NEUTRAL_ACTION,
}


class NeutralActionError(AgenTracerError):
    """The recording is not one of our simulations and no neutral action was given."""


class ZeroRiskError(AgenTracerError):
    """The recorded run has no risk to explain (risk 0), so no Risk Drop can be computed."""


def neutral_action_for(recording: Recording, override: str | None = None) -> str:
    """The neutral action for the recorded program: `override`, else the simulation's own."""
    if override is not None:
        return override
    for module, action in NEUTRAL_ACTIONS.items():
        if module in recording.command:
            return action
    raise NeutralActionError(
        f"no neutral action is known for {' '.join(recording.command)[:80]!r}; "
        "pass --neutral TEXT (the reply that means 'this agent does nothing')"
    )


def mean_and_spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass
class Subject:
    """A recording and the means to replay it with actions edited."""

    directory: Path
    upstream: Upstream | None
    work_dir: Path
    neutral: str | None = None
    timeout: float | None = None
    replays: int = 0
    reused: int = 0  # replays an interrupted run of the same evaluation had finished
    _counter: int = field(default=0, repr=False)

    @cached_property
    def recording(self) -> Recording:
        return rec.load(self.directory)

    @cached_property
    def neutral_action(self) -> str:
        return neutral_action_for(self.recording, self.neutral)

    @cached_property
    def risk_before(self) -> float:
        risk = read_risk(self.directory)
        if risk <= 0:
            raise ZeroRiskError(
                "the recorded run's risk is 0: there is nothing to attribute", path=self.directory
            )
        return risk

    @cached_property
    def actions(self) -> list[int]:
        """The run's actions: its model calls, by index."""
        return [call.index for call in self.recording.calls()]

    def describe(self, action: int) -> str:
        calls = self.recording.calls()
        if not 0 <= action < len(calls):
            raise UnknownActionError(f"action {action} is not a model call of the run")
        return f"{calls[action].agent}@{action}"

    def replay(self, edits: dict[int, str], label: str, *, live: bool) -> EditedRun:
        """Replay with `edits`; `live` lets unedited calls after the first edit ask the model
        (deletion), otherwise every call must be edited (no model is needed)."""
        if live and self.upstream is None:
            raise AgenTracerError("this replay needs a model: give --model")
        self._counter += 1
        self.replays += 1
        out = self.work_dir / f"{label}-{self._counter:04d}"
        run = replay_edited(
            self.directory, edits, self.upstream if live else None, out, timeout=self.timeout
        )
        self.reused += run.reused
        return run

    def recorded_texts(self) -> dict[int, str]:
        return {call.index: call.content() for call in self.recording.calls()}

    def validate(self, order: list[int], scorer: str) -> None:
        """A ranking must name each of the run's actions at most once, and nothing else."""
        known = set(self.actions)
        outside = [a for a in order if a not in known]
        if outside:
            raise UnknownActionError(
                f"scorer {scorer!r} ranked actions {outside} that the run does not have "
                f"(its actions are 0..{len(known) - 1})"
            )
        if len(set(order)) != len(order):
            raise UnknownActionError(f"scorer {scorer!r} ranked an action twice")
