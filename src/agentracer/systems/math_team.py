"""A two-agent math team: Solver answers, Verifier checks and may correct; exact-answer check.

    python -m agentracer.systems.math_team run --problem trains
    python -m agentracer.systems.math_team check --problem trains   # reads $AGENTRACER_MAS_STDOUT

Agents are named through the request's `user` field; the verifier streams its answer. The
problems are short word problems written for this project.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from agentracer.systems.report import report_task

PROBLEMS: dict[str, tuple[str, str]] = {
    "add": ("What is 2 + 3? Give the number.", "5"),
    "double": ("What is 7 doubled? Give the number.", "14"),
    "apples": ("Ana has 12 apples and gives away 5. How many apples does she have left?", "7"),
    "boxes": ("A box holds 6 eggs. How many eggs are in 4 boxes?", "24"),
    "trains": (
        "A train leaves at 09:40 and arrives at 13:15 the same day. How many minutes is the journey?",
        "215",
    ),
    "pages": ("A book has 120 pages. Tom reads 15 pages a day. How many days does he need?", "8"),
    "coins": ("Sara has 3 coins of 20 cents and 4 coins of 5 cents. How many cents is that?", "80"),
    "chairs": ("A hall has 9 rows of 11 chairs; 14 chairs are taken. How many are free?", "85"),
    "bus": (
        "A bus has 40 seats. 23 people get on, then 9 get off. How many seats are empty?",
        "26",
    ),
    "cookies": ("Mia bakes 3 trays of 16 cookies and eats 5. How many cookies are left?", "43"),
    "rent": ("Rent is 750 a month. How much is the rent for a whole year?", "9000"),
    "legs": ("A farm has 7 cows and 5 chickens. How many legs do they have together?", "38"),
    "walk": ("Leo walks 4 km an hour. How many km does he walk in 2 and a half hours?", "10"),
    "change": (
        "A pen costs 35 cents. Ana pays with 1 euro. How many cents change does she get?",
        "65",
    ),
    "share": ("Four friends share 92 marbles equally. How many marbles does each get?", "23"),
    "clock": (
        "A movie starts at 18:45 and lasts 110 minutes. At what minute past 20:00 does it end?",
        "35",
    ),
    "square": ("A square field has a side of 13 m. What is its area in square metres?", "169"),
    "sale": ("A coat costs 80 and is sold at 25% off. What is the sale price?", "60"),
    "ages": ("Tom is 3 times as old as Ben. Ben is 9. How old will Tom be in 4 years?", "31"),
    "tank": (
        "A tank holds 500 litres and is 30% full. How many litres are missing to fill it?",
        "350",
    ),
}

SOLVER = (
    "You are Solver, a careful mathematician.\n"
    "Solve the problem step by step, then end with a line 'ANSWER: <number>'."
)
VERIFIER = (
    "You are Verifier, who checks a solution.\n"
    "Read the problem and the proposed solution. If the answer is right, reply 'VERDICT: correct'. "
    "If it is wrong, reply 'VERDICT: wrong' and a line 'ANSWER: <number>' with the right number."
)
_ANSWER = re.compile(r"ANSWER:\s*\**\s*(-?\d+(?:\.\d+)?)", re.I)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_FINAL = re.compile(r"FINAL ANSWER:\s*(\S+)")


def last_answer(text: str) -> str | None:
    """The number after the last `ANSWER:`, else the last number in the text."""
    found = _ANSWER.findall(text) or _NUMBER.findall(text)
    return found[-1] if found else None


def ask(client: OpenAI, agent: str, system: str, user: str, *, stream: bool = False) -> str:
    model = os.environ.get("MATH_TEAM_MODEL", "default")
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": system},
        {"role": "user", "content": user},
    ]
    if not stream:
        completion = client.chat.completions.create(
            model=model,
            messages=messages,
            temperature=0,
            max_tokens=200,
            seed=0,
            user=agent,
        )
        return completion.choices[0].message.content or ""
    parts = []
    chunks = client.chat.completions.create(
        model=model,
        messages=messages,
        temperature=0,
        max_tokens=200,
        seed=0,
        user=agent,
        stream=True,
    )
    for chunk in chunks:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    return "".join(parts)


def run(problem: str, feedback: str | None = None) -> int:
    question, answer = PROBLEMS[problem]
    report_task(question, answer)
    client = OpenAI()
    task = f"{question}\n\nFeedback on an earlier attempt: {feedback}" if feedback else question
    solution = ask(client, "Solver", SOLVER, task)
    review = ask(
        client,
        "Verifier",
        VERIFIER,
        f"Problem: {question}\n\nProposed solution:\n{solution}",
        stream=True,
    )
    corrected = last_answer(review) if "wrong" in review.lower() else None
    final = corrected or last_answer(solution) or "none"
    print(f"FINAL ANSWER: {final}")
    return 0


def check(problem: str, output: Path) -> int:
    found = _FINAL.findall(output.read_text(encoding="utf-8", errors="replace"))
    expected = PROBLEMS[problem][1]
    got = found[-1] if found else None
    print(f"expected {expected}, got {got}")
    try:
        return 0 if got is not None and float(got) == float(expected) else 1
    except ValueError:
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["run", "check"])
    parser.add_argument("--problem", choices=sorted(PROBLEMS), required=True)
    parser.add_argument(
        "--feedback", help="run: feedback on an earlier attempt, given with the task"
    )
    parser.add_argument(
        "--output", type=Path, help="check: the run's output (default $AGENTRACER_MAS_STDOUT)"
    )
    args = parser.parse_args(argv)
    if args.action == "run":
        return run(args.problem, args.feedback)
    output = args.output or Path(os.environ.get("AGENTRACER_MAS_STDOUT", "mas.stdout"))
    return check(args.problem, output)


if __name__ == "__main__":
    sys.exit(main())
