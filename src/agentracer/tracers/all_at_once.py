"""All-at-once (Who&When): one call over the whole log names the agent and the step."""

from __future__ import annotations

from agentracer.tracers import prompts
from agentracer.tracers.llm_tracer import LLMTracer, llm_factory
from agentracer.tracers.parsing import fields_grammar, parse_fields
from agentracer.tracers.registry import register_tracer
from agentracer.trajectory import Trajectory, Verdict


class AllAtOnceTracer(LLMTracer):
    name = "all-at-once"

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        transcript = self.start(trajectory)
        response = await self.ask(
            trajectory,
            transcript,
            lambda contents: prompts.all_at_once(
                trajectory,
                contents,
                with_ground_truth=with_ground_truth,
                numbered=self.options.step_numbers,
            ),
            grammar=fields_grammar(trajectory),
        )
        return self.verdict(parse_fields(response.text, trajectory), transcript, trajectory)


register_tracer(
    "all-at-once",
    summary="one call over the whole log (Who&When); option step_numbers=true numbers the entries",
    needs_model=True,
)(llm_factory(AllAtOnceTracer))
