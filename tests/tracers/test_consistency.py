"""Every registered tracer's verdicts pass the consistency check.

Model tracers are asked through a real OpenAI-compatible endpoint on loopback whose scripted
answer names an agent at a step another agent took (and carries every tracer's answer
format), so the documented resolution rule is exercised, not bypassed.
"""

import asyncio
from pathlib import Path

import pytest

from agentracer.formats import Benchmark, load_one
from agentracer.llm import ConnectionSettings
from agentracer.tracers import TracerSettings, create_tracer, tracer_specs
from agentracer.tracers.structure import consistency_problems
from agentracer.trajectory import Trajectory
from tests.conftest import EXAMPLE
from tests.llm.loopback import Reply, ScriptedServer, completion

# Planner did not act at step 1 (Time_Expert did): every parser reads a disagreeing answer.
DISAGREEING = (
    "1. Yes\n2. Reason: it looks wrong\nHalf: first\n"
    "Agent Name: Planner\nStep Number: 1\nReason for Mistake: wrong duration\n"
    "<think>the duration is wrong</think>\n<answer>Planner | 1</answer>"
)


def _trajectories(who_and_when: Benchmark) -> list[Trajectory]:
    chosen = [load_one(EXAMPLE)]
    for subset in ("algorithm-generated", "hand-crafted"):
        runs = [t for s, t in who_and_when.trajectories() if s == subset]
        chosen += sorted(runs, key=lambda t: len(t.steps))[:2]
    return chosen


@pytest.mark.parametrize("name", [spec.name for spec in tracer_specs()])
def test_every_registered_tracer_gives_consistent_verdicts(
    name: str, who_and_when: Benchmark, tmp_path: Path
) -> None:
    spec = next(s for s in tracer_specs() if s.name == name)
    with ScriptedServer(Reply(body=completion(DISAGREEING))) as server:
        settings = TracerSettings()
        if spec.needs_model:
            settings = TracerSettings(
                model="openai/scripted",
                connection=ConnectionSettings(
                    base_url=server.base_url, use_cache=False, cache_dir=str(tmp_path)
                ),
            )
        tracer = create_tracer(name, settings)

        async def attribute_all() -> list:
            try:
                return [await tracer.attribute(t) for t in _trajectories(who_and_when)]
            finally:
                await tracer.aclose()

        verdicts = asyncio.run(attribute_all())
    for trajectory, verdict in zip(_trajectories(who_and_when), verdicts, strict=True):
        assert consistency_problems(verdict, trajectory) == [], (trajectory.id, verdict)
        if verdict.step is not None:
            assert verdict.evidence and verdict.category and verdict.suggested_fix


def test_an_endpoints_disagreeing_answer_is_resolved_with_the_raw_answer_kept(
    tmp_path: Path,
) -> None:
    example = load_one(EXAMPLE)
    with ScriptedServer(Reply(body=completion(DISAGREEING))) as server:
        settings = TracerSettings(
            model="openai/scripted",
            options={"step_numbers": True},
            connection=ConnectionSettings(base_url=server.base_url, use_cache=False),
        )
        tracer = create_tracer("all-at-once", settings)
        verdict = asyncio.run(tracer.attribute(example))
    assert (verdict.agent, verdict.step) == ("Planner", 0)  # agent kept, its nearest step
    assert verdict.raw_output is not None and "Step Number: 1" in verdict.raw_output
    assert any("answered Planner at step 1" in note for note in verdict.notes)
