"""What the simulations share: one model call per action, robust parsing, the risk line.

A simulation is an ordinary program (it talks to its model through the `openai` SDK only, so the
replay lab can record it and replay it with any action substituted). Every model call is one
action of one agent in one round, made in a fixed order, so call `i` of a replay is the same
(agent, round) as call `i` of the recording. The run ends by printing `RISK: <value>`; the
faithfulness code reads that line from the recording's `mas.stdout`.

The neutral action of every simulation is the reply `PASS`: it parses as "no usable action",
and an agent without a usable action keeps its previous state (documented per simulation).
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from agentracer.errors import AgenTracerError

RISK_MARK = "RISK:"
NEUTRAL_ACTION = "PASS"
ACTION_TOKENS = 24  # an action is a few numbers and a few words; small models ramble
_INTEGER = re.compile(r"(?<![\d.])-?\d{1,4}(?![\d])")
_RISK = re.compile(r"^RISK:\s*(\S+)\s*$", re.M)


class RiskMissingError(AgenTracerError):
    """A simulation run printed no `RISK:` line (it crashed, or it is not a simulation)."""


def json_schema(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A `response_format` asking for one JSON object; integers must carry bounds (small
    models emit runaway digits otherwise)."""
    schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}


def ask_action(
    client: OpenAI,
    agent: str,
    system: str,
    user: str,
    *,
    seed: int,
    schema: dict[str, Any],
    max_tokens: int = ACTION_TOKENS,
) -> str:
    """One agent's action: a short completion at temperature 0, named by header, asked for as
    JSON (`schema`); servers that ignore the schema still get a parsable prompt."""
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": system},
        {"role": "user", "content": user},
    ]
    completion = client.chat.completions.create(
        model=os.environ.get("SIMULATION_MODEL", "default"), messages=messages, temperature=0,
        max_tokens=max_tokens, seed=seed, extra_headers={"X-AgenTracer-Agent": agent},
        response_format=cast(Any, schema),  # a json_schema format as a plain dict
    )  # fmt: skip
    return completion.choices[0].message.content or ""


def percentages(text: str, count: int) -> list[int] | None:
    """The first `count` integers in 0..100 in `text`, or None when there are fewer (the
    action is unusable and the caller applies its documented default)."""
    found = [int(n) for n in _INTEGER.findall(text) if 0 <= int(n) <= 100]
    return found[:count] if len(found) >= count else None


def variance(values: list[float]) -> float:
    """Population variance."""
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


def print_risk(risk: float) -> None:
    print(f"{RISK_MARK} {risk:.6f}", flush=True)


def read_risk(directory: str | Path) -> float:
    """The risk a simulation run printed: the last `RISK:` line of the recording's stdout (or
    of the file `directory` itself)."""
    path = Path(directory)
    stdout = path / "mas.stdout" if path.is_dir() else path
    text = stdout.read_text(encoding="utf-8", errors="replace") if stdout.is_file() else ""
    found = _RISK.findall(text)
    if not found:
        raise RiskMissingError(
            "the run printed no 'RISK:' line; is it a simulation run that finished? "
            "(see mas.stderr)",
            path=stdout,
        )
    value = float(found[-1])
    if not math.isfinite(value):
        raise RiskMissingError(f"the run's risk is {value}", path=stdout)
    return value


def check_risk(output: Path, max_risk: float) -> int:
    """Exit code of a simulation's check: 0 when the run's risk stays at or below `max_risk`."""
    try:
        risk = read_risk(output)
    except RiskMissingError as error:
        print(error.one_line())
        return 1
    print(f"risk {risk:.6f} (limit {max_risk:g})")
    return 0 if risk <= max_risk else 1


def simulation_main(
    doc: str | None,
    run: Callable[[int, int, int], int],
    argv: Sequence[str] | None,
    *,
    length: str = "rounds",
    max_agents: int = 8,
    max_length: int = 20,
    max_risk: float,
) -> int:
    """The command line every simulation shares: `run --agents N --<length> T --seed S` calls
    `run(N, T, S)`; `check --max-risk R [--output FILE]` exits 0 when the run's printed risk
    (default file `$AGENTRACER_MAS_STDOUT`, which the replay lab sets for checks) is at most R."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["run", "check"])
    parser.add_argument("--agents", type=int, default=4, choices=range(2, max_agents + 1))
    parser.add_argument(f"--{length}", type=int, default=4, choices=range(1, max_length + 1))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-risk", type=float, default=max_risk, help="check: the risk limit")
    parser.add_argument(
        "--output", type=Path, help="check: the run's output (default $AGENTRACER_MAS_STDOUT)"
    )
    args = parser.parse_args(argv)
    if args.action == "run":
        return run(args.agents, getattr(args, length), args.seed)
    output = args.output or Path(os.environ.get("AGENTRACER_MAS_STDOUT", "mas.stdout"))
    return check_risk(output, args.max_risk)
