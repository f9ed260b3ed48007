"""`--tracer fast`: a learned ranking model over the agent steps, no LLM.

Scores every agent step with the fast model (`fast.model`), blames the best one, and reports
as `confidence` the softmax probability of that step among the run's agent steps, at the
temperature fitted on the model's own training data (out of fold). That number is calibrated
on the training distribution only (the shipped model: TracerTraj code runs); on other systems
read it as a ranking score in [0, 1], not as a measured probability.

Option: `-o model=PATH` picks a model written by `agentracer train-fast` (default: the model
shipped in the package, trained on TracerTraj only; see `default/MODEL_CARD.md`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from agentracer.errors import AgenTracerError
from agentracer.tracers.base import Tracer, TracerSettings
from agentracer.tracers.fast.features import FEATURES, step_features
from agentracer.tracers.fast.model import FastModel, load_model, softmax
from agentracer.tracers.fast.training import MODEL_FILE, model_path
from agentracer.tracers.registry import register_tracer
from agentracer.tracers.structure import structure
from agentracer.trajectory import Trajectory, Verdict

DEFAULT_MODEL = Path(__file__).parent / "default" / MODEL_FILE
CANDIDATES = 4

# Binary cues worth saying in a reason, in words.
_CUES = {
    "is_first_agent_step": "the first agent step",
    "is_first_hand_off": "the first hand-off to a second agent",
    "after_hand_off": "right after a hand-off",
    "is_first_of_agent": "this agent's first step",
    "introduces_final_numbers": "it introduces a number of the final answer",
    "error_after": "the tool output after it reports an error",
    "has_code": "it writes code",
    "declares_final_answer": "it declares a final answer",
    "corrected_later": "a later agent corrects something",
    "verifies": "it claims a verification",
}


@lru_cache(maxsize=4)
def cached_model(path: str) -> FastModel:
    return load_model(Path(path))


def _reason(values: list[float], total: int, probability: float) -> str:
    cues = [text for name, text in _CUES.items() if values[FEATURES.index(name)] > 0]
    said = "; ".join(cues[:4]) or "no single cue stands out"
    return (
        f"ranked first of {total} agent steps by the fast model (p = {probability:.2f}); "
        f"cues at this step: {said}"
    )


class FastTracer(Tracer):
    """Blames the agent step the ranking model scores highest."""

    name = "fast"

    def __init__(self, model: FastModel) -> None:
        self.model = model

    def score(self, trajectory: Trajectory) -> tuple[list[int], list[list[float]], list[float]]:
        """The agent steps' indices, their features and their probabilities."""
        indices, rows = step_features(trajectory)
        if not rows:
            return [], [], []
        import numpy  # here, not at import: registering the tracers must stay cheap

        raw = [float(x) for x in self.model.booster.predict(numpy.asarray(rows, dtype=float))]
        return indices, rows, softmax(raw, self.model.temperature)

    def ranked(self, trajectory: Trajectory) -> list[tuple[int, float]]:
        """Every agent step with its probability, most likely first (ties: earlier first)."""
        indices, _, probabilities = self.score(trajectory)
        return sorted(zip(indices, probabilities, strict=True), key=lambda p: (-p[1], p[0]))

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        indices, rows, probabilities = self.score(trajectory)
        if not rows:
            return Verdict(reason="no step was taken by a blamable agent", tracer=self.name)
        order = sorted(range(len(indices)), key=lambda k: (-probabilities[k], indices[k]))
        best = order[0]
        step = trajectory.steps[indices[best]]
        verdict = Verdict(
            agent=step.agent,
            step=step.index,
            reason=_reason(rows[best], len(indices), probabilities[best]),
            candidates=[indices[k] for k in order[1 : 1 + CANDIDATES]],
            tracer=self.name,
            confidence=round(probabilities[best], 4),
        )
        return structure(verdict, trajectory)


@register_tracer(
    "fast",
    summary="learned ranking model over the agent steps, no LLM (-o model=PATH; default shipped)",
)
def _fast(settings: TracerSettings) -> Tracer:
    unknown = set(settings.options) - {"model"}
    if unknown:
        raise AgenTracerError(f"bad option for fast: {sorted(unknown)[0]}; known: model")
    path = model_path(Path(str(settings.options.get("model", DEFAULT_MODEL))).expanduser())
    return FastTracer(cached_model(str(path)))
