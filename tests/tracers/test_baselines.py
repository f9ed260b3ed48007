import asyncio

import pytest

from agentracer.formats import Benchmark, load_one
from agentracer.naming import same_agent
from agentracer.tracers import create_tracer
from agentracer.tracers.baselines import PositionalTracer, RandomTracer
from agentracer.trajectory import Trajectory
from tests.conftest import EXAMPLE


def _by_subset(bench: Benchmark, subset: str) -> list[Trajectory]:
    return [t for s, t in bench.trajectories() if s == subset]


def _mean_expectation(trajectories: list[Trajectory], metric: str) -> float:
    tracer = RandomTracer()
    values = [tracer.expectation(t)[metric] for t in trajectories]  # type: ignore[index]
    return round(100 * sum(values) / len(values), 2)


@pytest.mark.parametrize(
    ("subset", "agent", "step", "paper_agent"),
    [("hand-crafted", 42.53, 4.16, 19.06), ("algorithm-generated", 39.42, 12.00, 29.10)],
)
def test_analytic_expectation_matches_the_published_figures(
    who_and_when: Benchmark, subset: str, agent: float, step: float, paper_agent: float
) -> None:
    trajectories = _by_subset(who_and_when, subset)
    assert _mean_expectation(trajectories, "agent_accuracy") == agent
    assert _mean_expectation(trajectories, "step_accuracy_paper") == step
    assert _mean_expectation(trajectories, "agent_accuracy_paper") == paper_agent


def test_random_draws_average_to_the_analytic_expectation(who_and_when: Benchmark) -> None:
    seeds = range(200)

    async def accuracies(trajectories: list[Trajectory]) -> tuple[float, float]:
        agent_hits = step_hits = 0
        for seed in seeds:
            tracer = RandomTracer(seed)
            for trajectory in trajectories:
                verdict = await tracer.attribute(trajectory)
                assert trajectory.label is not None
                agent_hits += same_agent(verdict.agent, trajectory.label.agent)
                step_hits += verdict.step == trajectory.label.step
        total = len(seeds) * len(trajectories)
        return 100 * agent_hits / total, 100 * step_hits / total

    for subset in ("hand-crafted", "algorithm-generated"):
        trajectories = _by_subset(who_and_when, subset)
        agent, step = asyncio.run(accuracies(trajectories))
        # 200 seeds: the standard error of each mean is below 0.5 points.
        assert agent == pytest.approx(_mean_expectation(trajectories, "agent_accuracy"), abs=1.5)
        assert step == pytest.approx(_mean_expectation(trajectories, "step_accuracy"), abs=1.0)


def test_random_is_seeded_per_trajectory_and_stays_in_range(who_and_when: Benchmark) -> None:
    trajectories = [t for _, t in who_and_when.trajectories()]

    async def run(seed: int, order: list[Trajectory]) -> dict[str, tuple[str | None, int | None]]:
        tracer = RandomTracer(seed)
        return {t.id: ((v := await tracer.attribute(t)).agent, v.step) for t in order}

    forward = asyncio.run(run(3, trajectories))
    assert forward == asyncio.run(run(3, list(reversed(trajectories))))  # order-independent
    assert forward != asyncio.run(run(4, trajectories))
    for trajectory in trajectories:
        agent, step = forward[trajectory.id]
        assert agent in trajectory.agents
        assert step is not None and 0 <= step < len(trajectory.steps)


def test_positional_baselines_on_the_example() -> None:
    trajectory = load_one(EXAMPLE)
    first = asyncio.run(PositionalTracer(last=False).attribute(trajectory))
    last = asyncio.run(PositionalTracer(last=True).attribute(trajectory))
    assert (first.agent, first.step) == ("Planner", 0)
    assert (last.agent, last.step) == ("Planner", 5)
    assert first.parse_status == last.parse_status == "direct"


def test_positional_baselines_skip_users_and_tools(who_and_when: Benchmark) -> None:
    trajectory = next(t for _, t in who_and_when.trajectories() if t.id == "hand-crafted/1")
    first = asyncio.run(create_tracer("first-agent-step").attribute(trajectory))
    assert trajectory.steps[0].speaker == "human"
    assert (first.agent, first.step) == ("Orchestrator", 1)


def _run(*speakers: str) -> Trajectory:
    from agentracer.trajectory import Step, StepKind

    steps = [
        Step(index=i, agent=s, speaker=s, kind=StepKind.TOOL if s == "search" else StepKind.AGENT)
        for i, s in enumerate(speakers)
    ]
    return Trajectory(id="run", steps=steps, agents=sorted({s for s in speakers if s != "search"}))


def test_first_hand_off_names_the_agent_it_blames() -> None:
    verdict = asyncio.run(create_tracer("first-hand-off").attribute(_run("A", "search", "A", "B")))
    assert (verdict.agent, verdict.step) == ("B", 3)
    assert verdict.reason.startswith("the first step of B, the second agent to act")


def test_first_hand_off_on_a_single_agent_run_says_it_fell_back() -> None:
    """Issue 20 item 2: no second agent, so no hand-off: the documented fallback (the only
    agent's first step), and a reason that says so instead of naming a second agent."""
    tracer = create_tracer("first-hand-off")
    verdict = asyncio.run(tracer.attribute(_run("A", "search", "A")))
    assert (verdict.agent, verdict.step) == ("A", 0)
    assert "second agent" not in verdict.reason
    assert verdict.reason.startswith("no hand-off: A is the only agent that acted")
    first = asyncio.run(create_tracer("first-agent-step").attribute(_run("A", "search", "A")))
    assert first.step == verdict.step  # the fallback is first-agent-step's choice


def test_most_frequent_agent_counts_its_steps_in_words() -> None:
    """Issue 20 item 17: "(1 steps)" read wrong; a count says "1 step"."""
    run = Trajectory.model_validate({
        "id": "one-each", "question": "q",
        "steps": [
            {"index": 0, "agent": "Planner", "speaker": "Planner", "content": "plan"},
            {"index": 1, "agent": "Worker", "speaker": "Worker", "content": "work"},
        ],
    })  # fmt: skip
    verdict = asyncio.run(create_tracer("most-frequent-agent").attribute(run))
    assert "(1 step)" in verdict.reason and "1 steps" not in verdict.reason
