"""The tracer interface: a failed run in, a verdict out.

A tracer is a small object with one async method. Model-free tracers answer at once; LLM
tracers await their model calls, so the evaluation runner can keep several in flight.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentracer.llm.types import ConnectionSettings
from agentracer.trajectory import Trajectory, Verdict

Expectation = dict[str, float]
"""Analytic probability that a verdict is right, per metric (e.g. `agent_accuracy`)."""


class TracerSettings(BaseModel):
    """Options every tracer factory receives; tracer-specific ones go in `options`.

    `model` is a `provider/model` name for tracers that need one (None: the default model).
    `connection` says how to reach it; it is not part of what an evaluation run computes.
    """

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    model: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    connection: ConnectionSettings = Field(default_factory=ConnectionSettings)


class Tracer(ABC):
    """Names the agent and the 0-based step that caused a run to fail."""

    name: str = "tracer"

    @abstractmethod
    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        """Attribute the failure of `trajectory`.

        With `with_ground_truth` the tracer may show the task's correct answer to its model;
        without it, it must not. The returned verdict never raises for unparsable model output:
        it is marked `unparsed` instead.
        """

    def expectation(self, trajectory: Trajectory) -> Expectation | None:
        """Analytic chance of being right on `trajectory`, for tracers that have one (random)."""
        return None

    async def aclose(self) -> None:
        """Release what the tracer holds (a model, a connection). Model-free tracers hold nothing."""
        return None
