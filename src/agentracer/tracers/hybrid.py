"""`--tracer hybrid`: the fast tracer shortlists the k most suspicious agent steps; the LLM
reads the log with them marked (or, `-o only_shortlist=true`, only them) and picks one.

The LLM is spent where it matters: on choosing among a few candidates the ranking model
found, instead of counting through the whole log. Embedded models are constrained to the
shortlist by the grammar; an endpoint's answer outside it is kept (and noted) after the usual
consistency rule. `confidence` is the fast model's probability of the picked step among all
agent steps (the LLM gives none of its own).

Options: `k` (default 3), `only_shortlist` (default false), `fast_model` (a model path; default
the shipped one), and the LLM options `max_tokens`, `temperature`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import Field, ValidationError

from agentracer.errors import AgenTracerError
from agentracer.llm import ChatModel, get_model
from agentracer.llm.client import default_model_name
from agentracer.tracers import prompts
from agentracer.tracers.base import Tracer, TracerSettings
from agentracer.tracers.fast.tracer import DEFAULT_MODEL, FastTracer, cached_model
from agentracer.tracers.fast.training import model_path
from agentracer.tracers.llm_tracer import LLMTracer, LLMTracerOptions
from agentracer.tracers.parsing import fields_grammar, parse_fields
from agentracer.tracers.registry import register_tracer
from agentracer.trajectory import Trajectory, Verdict


class HybridOptions(LLMTracerOptions):
    k: int = Field(default=3, ge=1, description="how many steps the fast tracer shortlists")
    only_shortlist: bool = Field(default=False, description="show the LLM only the shortlist")
    fast_model: str | None = Field(default=None, description="fast-tracer model path")


class HybridTracer(LLMTracer):
    name = "hybrid"
    default_max_tokens = 256

    def __init__(
        self, model: ChatModel, fast: FastTracer, options: HybridOptions, seed: int = 0
    ) -> None:
        super().__init__(model, options, seed)
        self.fast = fast
        self.hybrid_options = options

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        ranked = self.fast.ranked(trajectory)
        if not ranked:
            return Verdict(reason="no step was taken by a blamable agent", tracer=self.name)
        shortlist = sorted(i for i, _ in ranked[: self.hybrid_options.k])
        probability = dict(ranked)
        transcript = self.start(trajectory)
        response = await self.ask(
            trajectory,
            transcript,
            lambda contents: prompts.hybrid(
                trajectory,
                contents,
                shortlist,
                with_ground_truth=with_ground_truth,
                only_shortlist=self.hybrid_options.only_shortlist,
            ),
            grammar=fields_grammar(trajectory, allowed=shortlist),
        )
        verdict = self.verdict(parse_fields(response.text, trajectory), transcript, trajectory)
        notes = [f"fast shortlist (k={self.hybrid_options.k}): steps {shortlist}"]
        if verdict.step is not None and verdict.step not in shortlist:
            notes.append(f"the model picked step {verdict.step}, outside the shortlist")
        confidence = None if verdict.step is None else probability.get(verdict.step)
        return verdict.model_copy(
            update={
                "notes": [*verdict.notes, *notes],
                "candidates": [i for i in shortlist if i != verdict.step],
                "confidence": None if confidence is None else round(confidence, 4),
            }
        )


def _factory(settings: TracerSettings) -> Tracer:
    try:
        options = HybridOptions(
            **{"max_tokens": HybridTracer.default_max_tokens, **settings.options}
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise AgenTracerError(f"bad option for hybrid: {where}: {first['msg']}") from None
    path = (
        model_path(Path(options.fast_model).expanduser()) if options.fast_model else DEFAULT_MODEL
    )
    fast = FastTracer(cached_model(str(path)))
    name = settings.model or default_model_name(settings.connection)
    return HybridTracer(get_model(name, settings.connection), fast, options, seed=settings.seed)


build: Callable[[TracerSettings], Tracer] = register_tracer(
    "hybrid",
    summary="the fast tracer shortlists k steps (-o k=3), the LLM picks among them",
    needs_model=True,
)(_factory)
