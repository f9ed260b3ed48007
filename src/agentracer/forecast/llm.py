"""An LLM as an online auditor: it reads the log so far and answers "alarm at step s" or
"continue".

Unlike a post-hoc tracer in prefix mode (`TracerForecaster`, told that the run failed and asked
to blame a step), this auditor is told the truth: the run is still going and may well succeed.
It may name any agent step it has read, so an error it let pass earlier can still be flagged
once later steps make it plain. Local models answer under a grammar (one decision, then a
short reason); other models are read leniently (`parse_decision`).
"""

from __future__ import annotations

import re
from functools import partial

from agentracer.forecast.online import prefix as cut
from agentracer.tracers import prompts
from agentracer.tracers.llm_tracer import LLMTracer
from agentracer.tracers.parsing import Parsed, gbnf_alternatives, gbnf_literal
from agentracer.trajectory import Trajectory, Usage, Verdict

_ALARM = re.compile(r"alarm\W*(?:at)?\s*(?:step)?\s*[:#]?\s*(\d+)", re.I)
_CONTINUE = re.compile(r"\bcontinue\b", re.I)
_REASON = re.compile(r"reason\s*:\s*(.+)", re.I | re.S)


def auditor_prompt(
    trajectory: Trajectory, contents: list[str], *, with_ground_truth: bool
) -> list[dict[str, str]]:
    """Has a decisive mistake already happened in the log so far? Everything before the log's
    end is the same for every prefix of a run, so a local server reuses the previous prompt's
    cache and only reads the new step."""
    last = len(contents) - 1
    log = prompts.render_log(trajectory, contents, range(len(contents)), numbered=True)
    user = "\n\n".join(
        [
            prompts.task_block(trajectory, with_ground_truth),
            "The system is still running; it may succeed or fail. You are watching it live. If "
            "one of the steps read so far already contains a mistake that will make the task "
            "fail, raise an alarm at that step. If nothing decisive has gone wrong yet, let the "
            "run continue. Its log so far:",
            log,
            f"That was step {last}, the newest. Answer in exactly this format:\n"
            "Decision: continue  (or: alarm at step <number>)\nReason: <one sentence>",
        ]
    )
    return [{"role": "system", "content": prompts.SYSTEM}, {"role": "user", "content": user}]


def decision_grammar(trajectory: Trajectory, reason_chars: int = 160) -> str:
    """GBNF: `Decision: continue` or `Decision: alarm at step N` (N an agent step read so far),
    then a short reason."""
    steps = [str(s.index) for s in trajectory.agent_steps()] or ["0"]
    return "\n".join(
        [
            'root ::= "Decision: " decision "\\nReason: " reason',
            f"decision ::= {gbnf_literal('continue')} | {gbnf_literal('alarm at step ')} step",
            f"step ::= {gbnf_alternatives(steps)}",
            f"reason ::= [^\\n]{{1,{reason_chars}}}",
        ]
    )


def parse_decision(text: str, trajectory: Trajectory) -> tuple[int | None, bool]:
    """(the alarmed step, or None; whether the answer could be read at all). An alarm at a step
    outside the log read so far, or at no agent's step, is read as no alarm."""
    if found := _ALARM.search(text):
        step = int(found.group(1))
        agents = {s.index for s in trajectory.agent_steps()}
        return (step if step in agents else None), True
    return None, bool(_CONTINUE.search(text))


class LLMForecaster(LLMTracer):
    """The online auditor on any chat model (`local/smollm2-135m` by default)."""

    name = "llm-prefix"
    default_max_tokens = 96

    def __init__(self, *args, with_ground_truth: bool = False, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.with_ground_truth = with_ground_truth
        self.usage = Usage()
        self.unreadable = 0

    async def alarm(self, prefix: Trajectory) -> int | None:
        transcript = self.start(prefix)
        build = partial(auditor_prompt, prefix, with_ground_truth=self.with_ground_truth)
        response = await self.ask(prefix, transcript, build, grammar=decision_grammar(prefix))
        self.usage = self.usage + transcript.usage
        step, readable = parse_decision(response.text, prefix)
        self.unreadable += not readable
        return step

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        """Post-hoc use: the auditor reads the whole log once; its alarm is the blamed step."""
        transcript = self.start(trajectory)
        whole = cut(trajectory, len(trajectory.steps) - 1)
        build = partial(auditor_prompt, whole, with_ground_truth=with_ground_truth)
        response = await self.ask(whole, transcript, build, grammar=decision_grammar(whole))
        step, readable = parse_decision(response.text, whole)
        reason = _REASON.search(response.text)
        agent = None if step is None else trajectory.steps[step].agent
        parsed = Parsed(agent, step, reason.group(1).strip() if reason else "")
        return self.verdict(parsed, transcript, trajectory,
                            status=None if readable else "unparsed")  # fmt: skip
