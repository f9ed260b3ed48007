"""`--tracer surprise`: training-free attribution from language-model surprise, no labels.

Every agent step is scored by a fixed rule over its surprise under the embedded SmolLM2-135M
(`fast.surprise`): by default `lm_top5_z + lm_next_z`, how unexpected the step's most surprising
tokens are compared with the run's other agent steps, plus how unexpected the steps right after
it are (a derailment shows in what follows). The rule was fixed before any accuracy was
measured; the others are there to measure them (`-o rule=NAME`). The verdict quotes, verbatim,
the line of the blamed step that holds its most surprising token. Nothing is learned, so there
is no system prior to transfer: see benchmarks/README.md for what it scores on each system.

Options: `-o rule=surprise|step|next|mean|opening|calm`, `-o step_tokens=N`, `-o model=NAME|PATH`.
"""

from __future__ import annotations

from dataclasses import replace

from agentracer.errors import AgenTracerError
from agentracer.tracers.base import Tracer, TracerSettings
from agentracer.tracers.registry import register_tracer
from agentracer.tracers.structure import QUOTE_CHARS, evidence_for, structure
from agentracer.trajectory import Evidence, Trajectory, Verdict

# rule name -> (feature name, weight) pairs summed into a step's score
RULES: dict[str, tuple[tuple[str, float], ...]] = {
    "surprise": (("lm_top5_z", 1.0), ("lm_next_z", 1.0)),
    "step": (("lm_top5_z", 1.0),),
    "next": (("lm_next_z", 1.0),),
    "mean": (("lm_mean_z", 1.0),),
    "opening": (("lm_opening", 1.0),),
    # Added after seeing that "mean" scores far below chance on Who&When algorithm-generated
    # (gold steps there are unusually predictable): the transfer benchmark may choose it only
    # on the systems it trains on.
    "calm": (("lm_mean_z", -1.0),),
}
CANDIDATES = 4


def rule_scores(rule: str, rows: list[list[float]]) -> list[float]:
    """Each agent step's score under `rule` from its `SURPRISE_FEATURES` row."""
    from agentracer.tracers.fast.surprise import SURPRISE_FEATURES

    terms = [(SURPRISE_FEATURES.index(name), weight) for name, weight in RULES[rule]]
    return [sum(weight * row[k] for k, weight in terms) for row in rows]


def peak_quote(content: str, peak: int, chars: int = QUOTE_CHARS) -> str:
    """The line of `content` holding character `peak`, verbatim, cut to `chars` around it."""
    if not content.strip():
        return ""
    peak = min(max(peak, 0), len(content) - 1)
    start = content.rfind("\n", 0, peak) + 1
    end = content.find("\n", peak)
    line = content[start : end if end >= 0 else len(content)]
    if not line.strip():
        return next((x.strip()[:chars] for x in content.splitlines() if x.strip()), "")
    if len(line) <= chars:
        return line.strip()
    at = peak - start
    begin = max(0, min(at - chars // 3, len(line) - chars))
    return line[begin : begin + chars]


class SurpriseTracer(Tracer):
    """Blames the agent step with the highest score under a fixed surprise rule."""

    name = "surprise"

    def __init__(self, rule: str = "surprise", settings: object | None = None) -> None:
        from agentracer.tracers.fast.surprise import SurpriseSettings

        self.rule = rule
        self.settings = settings if settings is not None else SurpriseSettings()

    def ranked(self, trajectory: Trajectory) -> list[tuple[int, float]]:
        """Every agent step with its score, highest first (ties: the earlier step first)."""
        from agentracer.tracers.fast.surprise import features_from_arrays, run_surprise

        arrays = run_surprise(trajectory, self.settings)  # type: ignore[arg-type]
        rows = features_from_arrays(trajectory, arrays)
        indices = [s.index for s in trajectory.agent_steps()]
        scores = rule_scores(self.rule, rows)
        return sorted(zip(indices, scores, strict=True), key=lambda p: (-p[1], p[0]))

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        import asyncio

        from agentracer.tracers.fast.surprise import features_from_arrays, run_surprise

        if not trajectory.agent_steps():
            return Verdict(reason="no step was taken by a blamable agent", tracer=self.name)
        arrays = await asyncio.to_thread(run_surprise, trajectory, self.settings)  # type: ignore[arg-type]
        rows = features_from_arrays(trajectory, arrays)
        indices = [s.index for s in trajectory.agent_steps()]
        scores = rule_scores(self.rule, rows)
        order = sorted(range(len(indices)), key=lambda k: (-scores[k], indices[k]))
        best = order[0]
        step = trajectory.steps[indices[best]]
        evidence = []
        text = peak_quote(step.content, int(arrays["peak_char"][step.index]))
        if text:
            evidence.append(Evidence(step=step.index, quote=text, role="blamed"))
        evidence += [e for e in evidence_for(trajectory, step.index) if e.role == "failure"]
        terms = ", ".join(
            f"{name} = {rows[best][_feature(name)]:+.2f}" for name, _ in RULES[self.rule]
        )
        verdict = Verdict(
            agent=step.agent,
            step=step.index,
            reason=(
                f"the most surprising of {len(indices)} agent steps to a small language model "
                f"given the task and the log before it (rule {self.rule}: {terms}); "
                "its most surprising line is quoted"
            ),
            evidence=evidence,
            candidates=[indices[k] for k in order[1 : 1 + CANDIDATES]],
            tracer=self.name,
        )
        return structure(verdict, trajectory)


def _feature(name: str) -> int:
    from agentracer.tracers.fast.surprise import SURPRISE_FEATURES

    return SURPRISE_FEATURES.index(name)


@register_tracer(
    "surprise",
    summary="training-free: the agent step most surprising to the embedded SmolLM2 "
    "(-o rule=NAME, -o step_tokens=N)",
)
def _surprise(settings: TracerSettings) -> Tracer:
    from agentracer.tracers.fast.surprise import SurpriseSettings

    unknown = set(settings.options) - {"rule", "step_tokens", "model"}
    if unknown:
        raise AgenTracerError(
            f"bad option for surprise: {sorted(unknown)[0]}; known: model, rule, step_tokens"
        )
    rule = str(settings.options.get("rule", "surprise"))
    if rule not in RULES:
        raise AgenTracerError(f"unknown surprise rule {rule!r}; known: {', '.join(RULES)}")
    chosen = SurpriseSettings()
    if "step_tokens" in settings.options:
        try:
            tokens = int(settings.options["step_tokens"])
        except (TypeError, ValueError):
            tokens = 0
        if not 1 <= tokens <= 4096:
            raise AgenTracerError("surprise step_tokens must be an integer from 1 to 4096")
        chosen = replace(chosen, step_tokens=tokens)
    if "model" in settings.options:
        chosen = replace(chosen, model=str(settings.options["model"]))
    return SurpriseTracer(rule, chosen)
