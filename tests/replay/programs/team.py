"""A small scripted multi-agent program for the replay-lab tests (uses only the openai SDK).

    python team.py [--stream] [--diverge-file PATH] [--crash] [--hang] [--no-calls]
                   [--scratch FILE [--scratch-wait SECONDS]]

Planner -> Worker -> Reviewer, each one chat completion; the worker's output goes into the
reviewer's prompt, so a changed worker answer changes what the reviewer is asked. It reports a
tool result and its task to the proxy, and prints `FINAL: <reviewer answer>`. With `--scratch`
the worker's output goes through a file in the working directory (written, then read back
after `--scratch-wait` seconds), as programs that keep state in files do.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from openai import OpenAI


def report(event):
    url = os.environ.get("AGENTRACER_EVENTS_URL")
    if url:
        request = urllib.request.Request(
            url,
            data=json.dumps(event).encode(),
            headers={
                "Content-Type": "application/json",
                # the proxy answers only its own run's token
                "Authorization": f"Bearer {os.environ.get('AGENTRACER_PROXY_TOKEN', '')}",
            },
        )
        urllib.request.urlopen(request, timeout=10).read()


def ask(client, agent, system, user, stream):
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    if not stream:
        reply = client.chat.completions.create(
            model="team-model",
            messages=messages,
            temperature=0,
            extra_headers={"X-AgenTracer-Agent": agent},
        )
        return reply.choices[0].message.content
    parts = []
    for chunk in client.chat.completions.create(
        model="team-model",
        messages=messages,
        temperature=0,
        stream=True,
        extra_headers={"X-AgenTracer-Agent": agent},
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    return "".join(parts)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--diverge-file")
    parser.add_argument("--crash", action="store_true")
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--no-calls", action="store_true")
    parser.add_argument("--print-key", action="store_true")
    parser.add_argument("--question", default="Plan, do and review a task.")
    parser.add_argument("--answer", default="approved")
    parser.add_argument("--scratch")
    parser.add_argument("--scratch-wait", type=float, default=0.0)
    args = parser.parse_args()
    if args.print_key:
        print("KEY:", os.environ.get("OPENAI_API_KEY"))
    if args.no_calls:
        print("FINAL: nothing")
        return 0
    if args.hang:
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # a grandchild too
        time.sleep(600)
    report({"kind": "task", "question": args.question, "ground_truth": args.answer})
    client = OpenAI()
    plan = ask(client, "Planner", "You are the planner.", "Make a plan.", args.stream)
    extra = Path(args.diverge_file).read_text() if args.diverge_file else ""
    work = ask(client, "Worker", "You are the worker.", f"Do this: {plan}{extra}", args.stream)
    if args.scratch:
        Path(args.scratch).write_text(work)
        time.sleep(args.scratch_wait)
        work = Path(args.scratch).read_text()
    report({"kind": "tool", "agent": "checker", "content": f"checked: {work}"})
    if args.crash:
        raise SystemExit(3)
    review = ask(client, "Reviewer", "You are the reviewer.", f"Review: {work}", args.stream)
    print(f"FINAL: {review}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
