"""Binary search (Who&When): halve the range of agent steps until one is left (~log2 n calls).

Each call shows the whole log (the prompt prefix every call shares, see `prompts`) and asks
about the range under review at the end, so a prefix-caching server reads the log only once.
"""

from __future__ import annotations

from functools import partial

from agentracer.tracers import prompts
from agentracer.tracers.llm_tracer import LLMTracer, llm_factory
from agentracer.tracers.parsing import Parsed, choice_grammar, parse_choice
from agentracer.tracers.registry import register_tracer
from agentracer.trajectory import Trajectory, Verdict

# "upper"/"lower" are Who&When's words for the first and second half.
_HALVES = {"first": "first", "upper": "first", "second": "second", "lower": "second"}


class BinarySearchTracer(LLMTracer):
    name = "binary-search"
    default_max_tokens = 128

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        transcript = self.start(trajectory)
        grammar = choice_grammar("Half: ", ["first", "second"], "Reason: ")
        positions = [s.index for s in trajectory.agent_steps()] or list(
            range(len(trajectory.steps))
        )
        low, high = 0, len(positions) - 1
        while low < high:
            mid = (low + high) // 2
            first = (positions[low], positions[mid])
            second = (positions[mid + 1], positions[high])
            response = await self.ask(
                trajectory,
                transcript,
                partial(
                    prompts.binary_search,
                    trajectory,
                    first=first,
                    second=second,
                    with_ground_truth=with_ground_truth,
                ),
                grammar=grammar,
            )
            half = parse_choice(response.text, _HALVES)
            if half is None:
                transcript.notes.append(
                    f"no first/second answer for steps {first[0]}..{second[1]}; search stopped"
                )
                verdict = self.verdict(Parsed(), transcript, trajectory)
                verdict.candidates = positions[low : high + 1]
                return verdict
            low, high = (low, mid) if half == "first" else (mid + 1, high)
        step = trajectory.steps[positions[low]]
        return self.verdict(
            Parsed(step.agent, step.index, "binary search narrowed the log to this step"),
            transcript,
            trajectory,
        )


register_tracer(
    "binary-search",
    summary="halves the range of agent steps until one is left (Who&When)",
    needs_model=True,
)(llm_factory(BinarySearchTracer))
