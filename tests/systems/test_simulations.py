"""The simulations: parsing with documented defaults, recording through the proxy, risk."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from agentracer.replay.recording import load
from agentracer.replay.session import Program, record
from agentracer.systems import economy, market, social_network
from agentracer.systems.simulation import (
    RiskMissingError,
    percentages,
    read_risk,
    simulation_main,
    variance,
)
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


def test_social_network_beliefs_move_half_way_to_the_stated_one() -> None:
    agent = social_network.Agent("Agent1", "nurse", 50, post="old")
    social_network.apply_action(agent, '{"belief": 90, "post": "The cracks worry me"}')
    assert (agent.belief, agent.stated, agent.post) == (70, 90, "The cracks worry me")
    social_network.apply_action(agent, "10 it looks fine")  # a plain line parses too
    assert (agent.belief, agent.stated, agent.post) == (40, 10, "it looks fine")
    social_network.apply_action(agent, social_network.NEUTRAL_ACTION)
    assert (agent.belief, agent.stated, agent.post) == (40, None, "")
    social_network.apply_action(agent, "I am not sure at all")
    assert agent.belief == 40


def test_social_network_prompts_hold_no_own_belief_number_and_passing_leaves_the_feed() -> None:
    me = social_network.Agent("Agent1", "nurse", 73)
    other = social_network.Agent("Agent2", "farmer", 20)
    agents = [me, other]
    assert social_network._own(me) == "Your impression: the bridge is probably unsafe."
    assert social_network._feed(agents, me) == "(no posts yet)"
    social_network.apply_action(other, '{"belief": 30, "post": "safe enough"}')
    assert social_network._feed(agents, me) == '- Agent2 (belief 30): "safe enough"'
    social_network.apply_action(me, '{"belief": 61, "post": "hmm"}')
    assert "67" not in social_network._own(me) and social_network._own(me) == (
        'Your last post: "hmm"'
    )
    social_network.apply_action(other, social_network.NEUTRAL_ACTION)
    assert social_network._feed(agents, me) == "(no posts yet)"


def test_market_orders_parse_and_the_price_follows_net_order_flow() -> None:
    trader = market.Trader("Trader1", "contrarian", 100)
    market.apply_action(trader, '{"side": "sell", "quantity": 40}')
    assert trader.order == -40
    market.apply_action(trader, "BUY 25 units now")
    assert trader.order == 25
    for unusable in (market.NEUTRAL_ACTION, "hold", "buy lots", '{"side": "buy", "quantity": 500}'):
        market.apply_action(trader, unusable)
        assert trader.order == 0, unusable
    assert market.next_price(100.0, [100, 100]) == pytest.approx(100 * math.exp(0.2))
    assert market.next_price(100.0, [60, -60, 0]) == pytest.approx(100.0)
    assert market.next_price(50.0, [-50, 0]) == pytest.approx(50 * math.exp(-0.05))


def test_the_shared_command_line_runs_and_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[tuple[int, int, int]] = []

    def run(agents: int, length: int, seed: int) -> int:
        ran.append((agents, length, seed))
        return 0

    assert (
        simulation_main(
            "doc", run, ["run", "--agents", "3", "--months", "5"], length="months", max_risk=1.0
        )
        == 0
    )
    assert ran == [(3, 5, 0)]
    out = tmp_path / "mas.stdout"
    out.write_text("RISK: 0.25\n")
    assert simulation_main(None, run, ["check", "--output", str(out)], max_risk=0.3) == 0
    assert (
        simulation_main(
            None, run, ["check", "--output", str(out), "--max-risk", "0.2"], max_risk=0.3
        )
        == 1
    )
    assert "risk 0.250000 (limit 0.2)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        simulation_main(None, run, ["run", "--agents", "9"], max_agents=8, max_risk=1.0)


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
        ("market", ("--agents", "3", "--rounds", "2"), "Trader"),
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


def test_market_risk_is_the_ewma_of_squared_returns_from_its_printed_path(tmp_path: Path) -> None:
    program = simulation("market", "--agents", "3", "--rounds", "3")
    recording = record(program, ScriptedSimUpstream(), tmp_path / "rec")
    assert recording.outcome.status == "success", recording.outcome
    lines = (tmp_path / "rec" / "mas.stdout").read_text().splitlines()
    returns = [float(line.split("(")[1].split("%")[0]) / 100 for line in lines[:3]]
    risk = 0.0
    for r in returns:
        risk = 0.5 * r**2 + 0.5 * risk
    assert read_risk(tmp_path / "rec") == pytest.approx(risk, rel=1e-2)
    assert risk > 0
