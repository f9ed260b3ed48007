import doctest
import math

import pytest

from agentracer.training import reward
from agentracer.training.reward import format_reward, make_reward, multi_granular_reward

GOOD = "<think>the sum is wrong</think><answer>{agent} | {step}</answer>"


def _r(text: str, agent: str = "Time_Expert", step: int = 3, **kwargs) -> float:
    function = make_reward(**kwargs) if kwargs else multi_granular_reward
    return function([text], gold_agent=[agent], gold_step=[step])[0]


def test_exact_hit_is_one() -> None:
    assert _r(GOOD.format(agent="Time_Expert", step=3)) == 1.0


def test_right_agent_off_by_one() -> None:
    assert _r(GOOD.format(agent="Time_Expert", step=4)) == 0.5 + 0.5 * math.exp(-0.5)
    assert _r(GOOD.format(agent="Time_Expert", step=2)) == 0.5 + 0.5 * math.exp(-0.5)


def test_off_by_two_and_wrong_agent() -> None:
    assert _r(GOOD.format(agent="Time_Expert", step=5)) == 0.5 + 0.5 * math.exp(-2)
    assert _r(GOOD.format(agent="Planner", step=3)) == 0.5
    assert _r(GOOD.format(agent="Planner", step=13)) == pytest.approx(0.5 * math.exp(-50))


def test_agent_names_are_compared_like_the_evaluation() -> None:
    assert _r(GOOD.format(agent="time expert", step=3)) == 1.0
    assert _r(GOOD.format(agent="TIME-EXPERT", step=3)) == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "<answer>Time_Expert | 3</answer>",  # no reasoning
        "<think></think><answer>Time_Expert | 3</answer>",  # empty reasoning
        "<think>x</think><answer>Time_Expert | 3</answer> and more",  # text after the answer
        "<think>x</think><answer>Time_Expert, 3</answer>",  # not `agent | step`
        "<think>x</think><answer>Time_Expert | three</answer>",
        "Agent Name: Time_Expert\nStep Number: 3",
        "",
    ],
)
def test_bad_format_is_zero(text: str) -> None:
    assert _r(text) == 0.0
    assert format_reward([text]) == [0.0]


def test_conversational_completions_and_string_steps() -> None:
    completion = [{"role": "assistant", "content": GOOD.format(agent="Time_Expert", step=3)}]
    assert multi_granular_reward(
        [completion], gold_agent=["Time_Expert"], gold_step=["3"], prompts=["p"]
    ) == [1.0]


def test_weights() -> None:
    text = GOOD.format(agent="Planner", step=4)
    assert _r(text, lam=1.0) == math.exp(-0.5)
    assert _r(text, lam=0.5, sigma=2.0) == 0.5 * math.exp(-1 / 8)
    with pytest.raises(ValueError):
        make_reward(lam=1.5)


def test_docstring_example_runs() -> None:
    assert doctest.testmod(reward).failed == 0
