"""A small economy: households decide each month how much to work and how much to spend.

    python -m agentracer.systems.economy run --agents 4 --months 4 --seed 0
    python -m agentracer.systems.economy check --max-risk 0.01   # reads $AGENTRACER_MAS_STDOUT

Each household has a skill (goods made per hour worked, drawn from the seed) and cash. Every
month, in a fixed order, each replies with JSON `{"work": W, "spend": S}` (0-100): the share of
160 hours it works and the share of its cash plus this month's income it spends. The price
level clears the goods market (see `clearing_price`; the starting price clears it under the
default 50/50 decisions); inflation is the month's change of the price level (bounded). A statistician forecasts each month's inflation with last
month's (the naive forecast); risk = an EWMA (weight 0.5) of the squared forecast errors. A reply
without two integers in 0..100 is unusable: the household repeats last month's decision (50/50
in the first month), which is also what the neutral action `PASS` does. After each month the
environment reports prices, inflation and decisions to the proxy as a tool step.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass

from openai import OpenAI

from agentracer.systems.report import report_task, report_tool
from agentracer.systems.simulation import (
    NEUTRAL_ACTION,
    ask_action,
    json_schema,
    percentages,
    print_risk,
    simulation_main,
)

HOURS = 160
EWMA_WEIGHT = 0.5  # weight of the newest squared error
# A month's price change is bounded (-90%..+500%): near-zero output would explode it.
MIN_INFLATION, MAX_INFLATION = -0.9, 5.0
SYSTEM = (
    "You are {name}, a household. Each month you choose how much to work and how much of your "
    'money to spend, in percent.\nReply as JSON: {{"work": <percent>, "spend": <percent>}}'
)
_PERCENT = {"type": "integer", "minimum": 0, "maximum": 100}
SCHEMA = json_schema("household_action", {"work": _PERCENT, "spend": _PERCENT})
__all__ = ["NEUTRAL_ACTION", "Household", "apply_action", "main", "run"]


@dataclass
class Household:
    name: str
    skill: float
    cash: float
    work: int = 50
    spend: int = 50


def apply_action(household: Household, text: str) -> None:
    """Update the decision from a reply; an unusable reply (or `PASS`) repeats the last one."""
    found = percentages(text, 2)
    if found is not None:
        household.work, household.spend = found


def clearing_price(households: list[Household], fallback: float) -> float:
    """The price at which the month's spending buys the month's output. Household i makes
    y_i = hours_i x skill_i goods and earns p y_i; it spends s_i (cash_i + p y_i); so
    p = sum(s_i cash_i) / sum((1 - s_i) y_i). Without such a price (nobody works, or everybody
    spends everything) the price stays at `fallback`."""
    made = [h.work / 100 * HOURS * h.skill for h in households]
    spent = sum(h.spend / 100 * h.cash for h in households)
    kept = sum((1 - h.spend / 100) * y for h, y in zip(households, made, strict=True))
    return spent / kept if spent > 0 and kept > 0 else fallback


def run(n_agents: int, months: int, seed: int) -> int:
    rng = random.Random(seed)
    households = [
        Household(f"Household{i + 1}", round(rng.uniform(8, 20), 2), round(rng.uniform(200, 2000)))
        for i in range(n_agents)
    ]
    report_task(
        f"An economy of {n_agents} households runs for {months} months; inflation should stay "
        "predictable (risk = EWMA of squared inflation-forecast errors).",
        None,
    )
    client = OpenAI()
    # Last year's price: the one that clears the market under the default decisions, so a
    # month's inflation measures how far the households' choices moved it.
    price, inflation, risk = clearing_price(households, 1.0), 0.0, 0.0
    for month in range(months):
        for h in households:
            user = (
                f"Month {month + 1}. Price level {price:.2f}, inflation last month "
                f"{inflation:+.1%}. Your wage {h.skill * price:.1f}/hour, cash {h.cash:.0f}. "
                f"Last month: WORK {h.work} SPEND {h.spend}. Your line:"
            )
            reply = ask_action(
                client, h.name, SYSTEM.format(name=h.name), user, seed=seed, schema=SCHEMA
            )
            apply_action(h, reply)
        new_price = clearing_price(households, price)
        change = max(MIN_INFLATION, min(MAX_INFLATION, new_price / price - 1))
        forecast, inflation = inflation, change
        risk = EWMA_WEIGHT * (inflation - forecast) ** 2 + (1 - EWMA_WEIGHT) * risk
        price *= 1 + change
        for h in households:
            income = h.work / 100 * HOURS * h.skill * price
            h.cash = (1 - h.spend / 100) * (h.cash + income)
        decisions = ", ".join(f"{h.name}=WORK {h.work} SPEND {h.spend}" for h in households)
        line = (
            f"month {month + 1}: price {price:.3f}, inflation {inflation:+.2%} "
            f"(forecast {forecast:+.2%}), risk {risk:.5f}; {decisions}"
        )
        print(line, flush=True)
        report_tool("Environment", line)
    print_risk(risk)
    return 0


def main(argv: list[str] | None = None) -> int:
    return simulation_main(__doc__, run, argv, length="months", max_length=24, max_risk=0.01)


if __name__ == "__main__":
    sys.exit(main())
