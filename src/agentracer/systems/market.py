"""A small market: traders send orders for one stock index each round; order flow moves the price.

    python -m agentracer.systems.market run --agents 4 --rounds 4 --seed 0
    python -m agentracer.systems.market check --max-risk 0.01   # reads $AGENTRACER_MAS_STDOUT

Each trader has a style and a private estimate of the index's fair value (both drawn from the
seed). Every round, in a fixed order, each sees the index level, its recent path and its own
position, and replies with JSON `{"side": "buy" | "sell", "quantity": Q}` (Q in 0..100 units).
All of a round's orders execute together at the round's closing price, set by the impact rule

    price_next = price x exp(IMPACT x net_flow / (100 x traders)),

where net_flow is the sum of bought minus sold units (so the whole market buying its maximum
moves the index by exp(IMPACT) - 1 = +22%). The round's index return is price_next / price - 1;
risk = an EWMA (weight 0.5 on the newest) of the squared returns, i.e. the volatility the
traders' orders produced. Positions are bookkeeping only (short selling and borrowing are
allowed). A reply without a side and a quantity in 0..100 is unusable: the trader sends no
order, which is also what the neutral action `PASS` does. After each round the environment
reports the orders, the price and the return to the proxy as a tool step.
"""

from __future__ import annotations

import json
import math
import random
import re
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

START_PRICE = 100.0
IMPACT = 0.2  # log-price move when every trader buys 100 units
EWMA_WEIGHT = 0.5  # weight of the newest squared return
STYLES = ["momentum trader", "value investor", "contrarian", "noise trader", "pension fund",
          "day trader", "hedge fund", "retail investor"]  # fmt: skip
SYSTEM = (
    "You are {name}, a {style} trading a stock index. Each round you buy or sell up to 100 "
    "units.\nReply as JSON: "
    '{{"side": "buy" or "sell", "quantity": <0-100>}}'
)
SCHEMA = json_schema(
    "market_order",
    {
        "side": {"type": "string", "enum": ["buy", "sell"]},
        "quantity": {"type": "integer", "minimum": 0, "maximum": 100},
    },
)
_SIDE = re.compile(r"\b(buy|sell)\b", re.I)
__all__ = ["NEUTRAL_ACTION", "Trader", "apply_action", "main", "next_price", "parse_order", "run"]


@dataclass
class Trader:
    name: str
    style: str
    fair_value: int
    shares: int = 0
    cash: float = 0.0
    order: int = 0  # this round's signed order: + buys, - sells, 0 none


def parse_order(text: str) -> int | None:
    """The signed quantity of a reply: JSON `{"side", "quantity"}`, else the first word `buy`
    or `sell` and the first integer in 0..100; None when unusable."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        side, quantity = data.get("side"), data.get("quantity")
        if side in ("buy", "sell") and isinstance(quantity, int) and 0 <= quantity <= 100:
            return quantity if side == "buy" else -quantity
    side_match, found = _SIDE.search(text), percentages(text, 1)
    if side_match is None or found is None:
        return None
    return found[0] if side_match.group(1).lower() == "buy" else -found[0]


def apply_action(trader: Trader, text: str) -> None:
    """Set the trader's order for this round from its reply; unusable (or `PASS`): no order."""
    order = parse_order(text)
    trader.order = 0 if order is None else order


def next_price(price: float, orders: list[int]) -> float:
    """The impact rule: the log price moves by IMPACT x net flow / the largest possible flow."""
    return price * math.exp(IMPACT * sum(orders) / (100 * len(orders)))


def _path(prices: list[float]) -> str:
    return ", ".join(f"{p:.2f}" for p in prices[-4:])


def run(n_agents: int, rounds: int, seed: int) -> int:
    rng = random.Random(seed)
    traders = [
        Trader(f"Trader{i + 1}", rng.choice(STYLES), rng.randint(80, 120)) for i in range(n_agents)
    ]
    report_task(
        f"A market of {n_agents} traders trades one stock index for {rounds} rounds; the index "
        "should stay calm (risk = EWMA of squared index returns).",
        None,
    )
    client = OpenAI()
    prices, change, risk = [START_PRICE], 0.0, 0.0
    for round_ in range(rounds):
        price = prices[-1]
        for t in traders:
            user = (
                f"Round {round_ + 1}. Index {price:.2f} ({change:+.1%} last round); recent "
                f"levels: {_path(prices)}. Your fair value estimate: {t.fair_value}. You hold "
                f"{t.shares} units, cash {t.cash:.0f}. Your order:"
            )
            system = SYSTEM.format(name=t.name, style=t.style)
            apply_action(t, ask_action(client, t.name, system, user, seed=seed, schema=SCHEMA))
        new_price = next_price(price, [t.order for t in traders])
        for t in traders:
            t.shares += t.order
            t.cash -= t.order * new_price
        change = new_price / price - 1
        risk = EWMA_WEIGHT * change**2 + (1 - EWMA_WEIGHT) * risk
        prices.append(new_price)
        orders = ", ".join(f"{t.name}={t.order:+d}" for t in traders)
        line = (
            f"round {round_ + 1}: index {new_price:.3f} ({change:+.2%}), risk {risk:.6f}; {orders}"
        )
        print(line, flush=True)
        report_tool("Environment", line)
    print_risk(risk)
    return 0


def main(argv: list[str] | None = None) -> int:
    return simulation_main(__doc__, run, argv, max_agents=len(STYLES), max_risk=0.01)


if __name__ == "__main__":
    sys.exit(main())
