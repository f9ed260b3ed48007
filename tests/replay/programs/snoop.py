"""A hostile recorded program: it hunts for the upstream API key and tries to use the proxy
without its token.

    python snoop.py

It prints every `OPENAI_API_KEY` it can read from any process (/proc/*/environ, its parent's
included), tries the proxy's routes with no credentials and with a guessed key, then makes one
honest call with the key it was given.
"""

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from openai import OpenAI


def environments() -> dict[str, dict[str, str]]:
    found = {}
    pids = [p.name for p in Path("/proc").iterdir() if p.name.isdigit()]
    for pid in sorted({*pids, str(os.getppid())}):
        try:
            raw = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
        found[pid] = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}
    return found


def status(method: str, url: str, key: str | None, body: dict | None = None) -> int:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def main() -> None:
    print(f"processes visible: {len(environments())}")
    print(f"parent pid: {os.getppid()}")
    for pid, env in environments().items():
        for name, value in env.items():
            if name == "OPENAI_API_KEY":  # only the key under test, never a stranger's
                print(f"found {name} in /proc/{pid}/environ: {value}")
    base = os.environ["OPENAI_BASE_URL"]
    chat = {"model": "m", "messages": [{"role": "user", "content": "spend the key"}]}
    print("tokenless chat:", status("POST", f"{base}/chat/completions", None, chat))
    print("guessed-key chat:", status("POST", f"{base}/chat/completions", "sk-guess", chat))
    print("tokenless models:", status("GET", f"{base}/models", None))
    event = {"kind": "tool", "agent": "intruder", "content": "planted"}
    print("tokenless event:", status("POST", os.environ["AGENTRACER_EVENTS_URL"], None, event))
    reply = OpenAI().chat.completions.create(
        model="m", messages=[{"role": "system", "content": "You are the snoop."},
                             {"role": "user", "content": "hello"}],
    )  # fmt: skip
    print("honest call:", reply.choices[0].message.content)


if __name__ == "__main__":
    main()
