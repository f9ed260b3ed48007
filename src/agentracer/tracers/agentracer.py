"""The AgenTracer contract: reasoning in `<think>…</think>`, then `<answer>agent | step</answer>`.

This is the output format the training reward scores; prompting any model with it gives the
untrained baseline of the paper's tracer.
"""

from __future__ import annotations

from agentracer.tracers import prompts
from agentracer.tracers.llm_tracer import LLMTracer, llm_factory
from agentracer.tracers.parsing import parse_think_answer, think_answer_grammar
from agentracer.tracers.registry import register_tracer
from agentracer.trajectory import Trajectory, Verdict


class AgenTracerTracer(LLMTracer):
    name = "agentracer"
    default_max_tokens = 1024

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        transcript = self.start(trajectory)
        response = await self.ask(
            trajectory,
            transcript,
            lambda contents: prompts.agentracer(
                trajectory, contents, with_ground_truth=with_ground_truth
            ),
            grammar=think_answer_grammar(trajectory),
        )
        return self.verdict(parse_think_answer(response.text, trajectory), transcript, trajectory)


register_tracer(
    "agentracer",
    summary="AgenTracer format: <think> reasoning, then <answer>agent | step</answer>",
    needs_model=True,
)(llm_factory(AgenTracerTracer))
