"""The simulations: parsing with documented defaults, recording through the proxy, risk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agentracer.replay.recording import load
from agentracer.replay.session import Program, record
from agentracer.systems import economy, social_network
from agentracer.systems.simulation import RiskMissingError, percentages, read_risk, variance
from tests.systems.scripted import ScriptedSimUpstream


def simulation(module: str, *flags: str, max_risk: float = 1e6) -> Program:
    command = [sys.executable, "-m", f"agentracer.systems.{module}"]
    return Program(
        command=[*command, "run", *flags],
        check=" ".join([*command, "check", "--max-risk", str(max_risk)]),
        timeout=60,
    )


def test_percentages_take_the_first_integers_in_range() -> None:
    assert percentages("I'd say 40, maybe 140 or 7", 2) == [40, 7]
    assert percentages("WORK 60 SPEND 30", 2) == [60, 30]
    assert percentages("WORK sixty", 1) is None
    assert percentages("PASS", 1) is None
    assert variance([0.0, 1.0]) == pytest.approx(0.25)


def test_social_network_actions_fall_back_to_holding_the_belief() -> None:
    agent = social_network.Agent("Agent1", "nurse", 55, post="old")
    social_network.apply_action(agent, "70 The cracks worry me")
    assert (agent.belief, agent.post) == (70, "The cracks worry me")
    social_network.apply_action(agent, social_network.NEUTRAL_ACTION)
    assert (agent.belief, agent.post) == (70, "")
    social_network.apply_action(agent, "I am not sure at all")
    assert agent.belief == 70


def test_economy_actions_fall_back_to_last_months_decision() -> None:
    household = economy.Household("Household1", 10.0, 500.0)
    economy.apply_action(household, "WORK 80 SPEND 20")
    assert (household.work, household.spend) == (80, 20)
    economy.apply_action(household, "WORK 90")  # one number: unusable
    assert (household.work, household.spend) == (80, 20)
    economy.apply_action(household, economy.NEUTRAL_ACTION)
    assert (household.work, household.spend) == (80, 20)


@pytest.mark.parametrize(
    ("module", "flags", "agent"),
    [
        ("social_network", ("--agents", "3", "--rounds", "2"), "Agent"),
        ("economy", ("--agents", "3", "--months", "2"), "Household"),
    ],
)
def test_a_simulation_is_recorded_with_one_call_per_agent_and_round(
    module: str, flags: tuple[str, ...], agent: str, tmp_path: Path
) -> None:
    recording = record(simulation(module, *flags), ScriptedSimUpstream(), tmp_path / "rec")
    assert recording.outcome.status == "success", recording.outcome
    calls = recording.calls()
    assert [c.agent for c in calls] == [f"{agent}{i}" for _ in range(2) for i in (1, 2, 3)]
    assert all(c.agent_source == "header" for c in calls)
    tools = [e for e in recording.events if e.kind == "tool"]
    assert [t.after_call for t in tools] == [3, 6]
    risk = read_risk(tmp_path / "rec")
    assert risk >= 0
    # The same seed and the same answers make the same run.
    again = record(simulation(module, *flags), ScriptedSimUpstream(), tmp_path / "again")
    assert [c.request for c in again.calls()] == [c.request for c in calls]
    assert read_risk(tmp_path / "again") == risk
    assert load(tmp_path / "rec").task.question


def test_the_check_fails_a_run_whose_risk_is_over_the_limit(tmp_path: Path) -> None:
    program = simulation("economy", "--agents", "2", "--months", "3", max_risk=0.0)
    recording = record(program, ScriptedSimUpstream(), tmp_path / "rec")
    assert read_risk(tmp_path / "rec") > 0
    assert recording.outcome.status == "failure"
    assert "risk" in (tmp_path / "rec" / "check.out").read_text()


def test_a_run_without_a_risk_line_is_a_named_error(tmp_path: Path) -> None:
    (tmp_path / "mas.stdout").write_text("round 1: Agent1=50\n")
    with pytest.raises(RiskMissingError, match="no 'RISK:' line"):
        read_risk(tmp_path)
