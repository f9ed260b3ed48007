"""`--tracer fast`: a learned ranking model over the agent steps, no LLM.

Scores every agent step with the fast model (`fast.model`), blames the best one, and reports
as `confidence` the softmax probability of that step among the run's agent steps, at the
temperature fitted on the model's own training data (out of fold). That number is calibrated
on the training distribution only; on other systems read it as a ranking score in [0, 1], not
as a measured probability. A model with an anchor rule (`fast.anchor`; the shipped one) blames
that rule's pick, ranks the other candidates by score, and reports as `confidence` the rule's
top-1 on the model's training runs.

Option: `-o model=PATH` picks a model written by `agentracer train-fast` (default: the model
shipped in the package, trained on every labelled source; see `default/MODEL_CARD.md` for what
it scores on systems it never saw).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from agentracer.errors import AgenTracerError
from agentracer.tracers.base import Tracer, TracerSettings
from agentracer.tracers.fast.model import FastModel, load_model, softmax
from agentracer.tracers.fast.training import MODEL_FILE, model_path, training_ids
from agentracer.tracers.registry import register_tracer
from agentracer.tracers.rules import explain
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
    "opens_run": "the first agent step",
    "at_first_hand_off": "the first hand-off to a second agent",
    "tool_error_after": "the tool output after it reports an error",
    "first_error_after": "the run's first tool error follows it",
    "corrected_by_other": "a later agent corrects something",
    "contradicted_later": "content it introduced is contested by a later step",
}


@lru_cache(maxsize=4)
def cached_model(path: str) -> FastModel:
    return load_model(Path(path))


def _cues(values: list[float], names: list[str]) -> str:
    by_name = dict(zip(names, values, strict=True))
    cues = list(dict.fromkeys(text for name, text in _CUES.items() if by_name.get(name, 0.0) > 0))
    return "; ".join(cues[:4]) or "no single cue stands out"


def _reason(values: list[float], names: list[str], total: int, probability: float) -> str:
    return (
        f"ranked first of {total} agent steps by the fast model (p = {probability:.2f}); "
        f"cues at this step: {_cues(values, names)}"
    )


class FastTracer(Tracer):
    """Blames the agent step the ranking model scores highest."""

    name = "fast"

    def __init__(self, model: FastModel, path: Path | None = None) -> None:
        self.model = model
        self.path = path

    def trained_on(self) -> tuple[set[str], Path] | None:
        """The ids of the model's training runs and the record naming them (`TRAINING.json`
        beside the model file); None when unknown."""
        return None if self.path is None else training_ids(self.path)

    def score(self, trajectory: Trajectory) -> tuple[list[int], list[list[float]], list[float]]:
        """The agent steps' indices, their features and their probabilities."""
        indices, rows = self.model.rows(trajectory)
        if not rows:
            return [], [], []
        raw = self.model.predict(rows)
        return indices, rows, softmax(raw, self.model.temperature)

    def ranked(self, trajectory: Trajectory) -> list[tuple[int, float]]:
        """Every agent step with its probability, most likely first (ties: earlier first); a
        model with an anchor rule puts that rule's pick first."""
        indices, _, probabilities = self.score(trajectory)
        probability = dict(zip(indices, probabilities, strict=True))
        by_score = sorted(indices, key=lambda i: (-probability[i], i))
        return [(i, probability[i]) for i in self.model.lead(trajectory, by_score)]

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        indices, rows, probabilities = self.score(trajectory)
        if not rows:
            return Verdict(reason="no step was taken by a blamable agent", tracer=self.name)
        by_score = sorted(range(len(indices)), key=lambda k: (-probabilities[k], indices[k]))
        position = {step: k for k, step in enumerate(indices)}
        led = self.model.lead(trajectory, [indices[k] for k in by_score])
        order = [position[step] for step in led]
        anchor = self.model.anchor
        best = order[0]
        step = trajectory.steps[indices[best]]
        reason = _reason(rows[best], self.model.features.names, len(indices), probabilities[best])
        confidence: float | None = round(probabilities[best], 4)
        if anchor is not None:
            measured = self.model.meta.get("anchor", {}).get("training_top1")
            reason = (
                f"{explain(anchor, trajectory, step)}, picked by the "
                f"`{anchor}` rule, which this model leads with (the "
                f"model-free rule with the best top-1 on its training runs); the ranker, which "
                f"orders the other candidates, puts it {by_score.index(best) + 1} of {len(indices)}; "
                f"cues at this step: {_cues(rows[best], self.model.features.names)}"
            )
            confidence = None if measured is None else float(measured)
        verdict = Verdict(
            agent=step.agent,
            step=step.index,
            reason=reason,
            candidates=[indices[k] for k in order[1 : 1 + CANDIDATES]],
            tracer=self.name,
            confidence=confidence,
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
    return FastTracer(cached_model(str(path)), path)
