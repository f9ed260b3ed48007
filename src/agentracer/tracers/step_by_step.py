"""Step-by-step (Who&When): judge each agent step in turn; the first one judged decisive wins.

Each call shows the log up to the step under review and asks about that step last. The log up to
step k is the first bytes of the log up to step k+1 and of every other tracer's prompt on the
run (`prompts.shared_prefix`), so on a server that caches prompt prefixes (the embedded model,
llama.cpp, vLLM, hosted APIs) each step is read once and a call costs its new step and its
question. Without such a cache the cost grows with the square of the log length. The response
cache makes an interrupted walk resume where it stopped.
"""

from __future__ import annotations

import re
from functools import partial

from agentracer.tracers import prompts
from agentracer.tracers.llm_tracer import LLMTracer, llm_factory
from agentracer.tracers.parsing import Parsed, choice_grammar, parse_choice
from agentracer.tracers.registry import register_tracer
from agentracer.trajectory import ParseStatus, Trajectory, Verdict

_YES_NO = {"yes": "yes", "no": "no"}
_REASON = re.compile(r"reason\s*:\s*(.+)", re.I | re.S)


class StepByStepTracer(LLMTracer):
    name = "step-by-step"
    default_max_tokens = 128

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        transcript = self.start(trajectory)
        grammar = choice_grammar("1. ", ["Yes", "No"], "2. Reason: ")
        unreadable = 0
        for step in trajectory.agent_steps():
            response = await self.ask(
                trajectory,
                transcript,
                partial(
                    prompts.step_by_step,
                    trajectory,
                    step=step.index,
                    with_ground_truth=with_ground_truth,
                ),
                grammar=grammar,
            )
            answer = parse_choice(response.text, _YES_NO)
            if answer is None:
                unreadable += 1
                transcript.notes.append(f"step {step.index}: no yes/no answer; taken as no")
            elif answer == "yes":
                reason = _REASON.search(response.text)
                parsed = Parsed(step.agent, step.index, reason.group(1).strip() if reason else "")
                return self.verdict(parsed, transcript, trajectory)
        judged = len(trajectory.agent_steps())
        transcript.notes.append("no step was judged decisive")
        status: ParseStatus = "unparsed" if judged and unreadable == judged else "parsed"
        return self.verdict(Parsed(), transcript, trajectory, status=status)


register_tracer(
    "step-by-step",
    summary="asks about each agent step in order; stops at the first judged decisive (Who&When)",
    needs_model=True,
)(llm_factory(StepByStepTracer))
