"""The recorder keeps the key from a hostile recorded program (issue 9), end to end: the real
`agentracer record` command in its own process, with the key in its environment, a loopback
model server, and a program that hunts for the key in /proc and calls the proxy without its
token."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentracer.replay.isolation import isolation
from tests.llm.loopback import ScriptedServer
from tests.replay.conftest import PROGRAMS

SECRET = "sk-live-do-not-leak-0123456789abcdef"


def _record(server: ScriptedServer, out: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "AGENTRACER_CACHE_DIR": str(out.parent)}
    return subprocess.run(
        [sys.executable, "-m", "agentracer.cli", "record", "--model", "openai/scripted",
         "--base-url", server.base_url, "--out", str(out), *flags,
         "--", sys.executable, str(PROGRAMS / "snoop.py")],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _everything(out: Path, done: subprocess.CompletedProcess[str]) -> str:
    files = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    return files + done.stdout + done.stderr


@pytest.mark.skipif(not isolation().active, reason="this system allows no namespaces")
def test_an_isolated_program_cannot_find_or_spend_the_key(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        done = _record(server, tmp_path / "rec")
    assert done.returncode == 0, done.stderr
    assert SECRET not in _everything(tmp_path / "rec", done)
    printed = (tmp_path / "rec" / "mas.stdout").read_text()
    assert "processes visible: 1" in printed  # its own namespace: only itself
    assert "tokenless chat: 401" in printed and "guessed-key chat: 401" in printed
    assert "tokenless models: 401" in printed and "tokenless event: 401" in printed
    assert "honest call: ok" in printed
    assert len(server.requests) == 1  # only the honest call reached the model
    assert "intruder" not in (tmp_path / "rec" / "recording.json").read_text()


def test_without_isolation_the_threat_is_real_and_said(tmp_path: Path) -> None:
    """What isolation prevents: unisolated, a same-user program reads the key from its
    parent's /proc environ (which is why isolation is on by default, and the run warns)."""
    with ScriptedServer() as server:
        done = _record(server, tmp_path / "rec", "--no-isolate")
    assert done.returncode == 0, done.stderr
    assert "was not isolated" in done.stderr and "--no-isolate" in done.stderr
    printed = (tmp_path / "rec" / "mas.stdout").read_text()
    assert f"OPENAI_API_KEY in /proc/{printed.split('parent pid: ')[1].split()[0]}" in printed
    assert SECRET in printed
    assert "tokenless chat: 401" in printed  # the token still guards the proxy
