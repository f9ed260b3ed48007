"""The multi-granular reward of AgenTracer, as a plain TRL-style reward function.

    R = I_format * [lam * exp(-(t_hat - t*)^2 / (2 sigma^2)) + (1 - lam) * 1[agent_hat == agent*]]

`I_format` is a strict 0/1 gate: the completion must be reasoning inside `<think>...</think>`
followed by `<answer>agent | step</answer>` and nothing after it (`strict_think_answer`, the
same check the `agentracer` tracer's parser uses). Agent names are compared after the
evaluation's normalisation (`normalise_agent`). Defaults lam = 0.5, sigma = 1: off by one step
keeps exp(-0.5) ~ 0.61 of the step term, off by two exp(-2) ~ 0.14.

Example (runnable):

>>> from agentracer.training.reward import multi_granular_reward
>>> multi_granular_reward(
...     ["<think>the sum is wrong</think><answer>Time_Expert | 1</answer>",
...      "<think>...</think><answer>time expert | 2</answer>",
...      "Time_Expert | 1"],
...     gold_agent=["Time_Expert"] * 3, gold_step=[1, 1, "1"])
[1.0, 0.8032653298563167, 0.0]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from agentracer.naming import same_agent
from agentracer.tracers.parsing import strict_think_answer

_AGENT_STEP = re.compile(r"^\s*(?P<agent>[^|]+?)\s*\|\s*(?P<step>\d+)\s*$")

RewardFunction = Callable[..., list[float]]


def completion_text(completion: Any) -> str:
    """The text of a completion, whether TRL passes a string or a conversation (list of
    messages, the last one the model's)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        last = completion[-1]
        return str(last.get("content", "")) if isinstance(last, dict) else str(last)
    return ""


def parse_answer(text: str) -> tuple[str, int] | None:
    """(agent, step) when `text` passes the format gate, else None."""
    strict = strict_think_answer(text)
    if strict is None:
        return None
    match = _AGENT_STEP.match(strict[1])
    return (match.group("agent"), int(match.group("step"))) if match else None


def score(
    text: str, gold_agent: str, gold_step: int, *, lam: float = 0.5, sigma: float = 1.0
) -> float:
    """The reward of one completion."""
    answer = parse_answer(text)
    if answer is None:
        return 0.0
    agent, step = answer
    step_term = math.exp(-((step - gold_step) ** 2) / (2 * sigma**2))
    return lam * step_term + (1 - lam) * float(same_agent(agent, gold_agent))


def make_reward(lam: float = 0.5, sigma: float = 1.0) -> RewardFunction:
    """A reward function with the given weights, for `GRPOTrainer(reward_funcs=[...])`.

    It reads the dataset columns `gold_agent` and `gold_step` (one value per completion)."""
    if not 0.0 <= lam <= 1.0 or sigma <= 0:
        raise ValueError(f"need 0 <= lam <= 1 and sigma > 0, got lam={lam}, sigma={sigma}")

    def multi_granular_reward(
        completions: Sequence[Any],
        gold_agent: Sequence[str],
        gold_step: Sequence[int | str],
        **columns: Any,
    ) -> list[float]:
        return [
            score(completion_text(c), str(agent), int(step), lam=lam, sigma=sigma)
            for c, agent, step in zip(completions, gold_agent, gold_step, strict=True)
        ]

    return multi_granular_reward


multi_granular_reward = make_reward()


def format_reward(completions: Sequence[Any], **columns: Any) -> list[float]:
    """1.0 for each completion that passes the format gate (a diagnostic to log beside R)."""
    return [float(parse_answer(completion_text(c)) is not None) for c in completions]
