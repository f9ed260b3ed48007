"""The recorder keeps the key and the signing key from a hostile recorded program (issues 9
and 18), end to end: the real `agentracer record` command in its own process, with the key in
its environment (and inside another variable), an upstream that accepts only that key, and
programs that hunt for the key, unmount /proc, read the signing key and forge a signature.

These tests run as whatever user runs the suite; on this project's machines that is root, the
case issue 18 is about (a root program without a user namespace could unmount /proc). The
sandbox tests are skipped where bubblewrap cannot start (see `replay.isolation`).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentracer.replay.isolation import isolation
from tests.llm.loopback import ScriptedServer
from tests.replay.conftest import PROGRAMS

SECRET = "sk-live-do-not-leak-0123456789abcdef"
sandboxed = pytest.mark.skipif(not isolation().active, reason=isolation().description)


def _agentracer(*args: str, cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """The `agentracer` command as a user starts it, with the key in its environment."""
    env = {
        **os.environ, "OPENAI_API_KEY": SECRET, "AUTH_HDR": f"Bearer {SECRET}",
        "AGENTRACER_CONFIG_DIR": str(config), "AGENTRACER_CACHE_DIR": str(cwd / ".cache"),
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "agentracer.cli", *args], cwd=cwd, env=env,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _record(server: ScriptedServer, out: str, cwd: Path, config: Path, *program: str):
    return _agentracer(
        "record", "--model", "openai/scripted", "--base-url", server.base_url, "--out", out,
        "--", sys.executable, *program, cwd=cwd, config=config,
    )  # fmt: skip


def _everything(out: Path, done: subprocess.CompletedProcess[str]) -> str:
    files = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    return files + done.stdout + done.stderr


@sandboxed
def test_a_program_that_unmounts_proc_finds_no_key_and_forges_nothing(tmp_path: Path) -> None:
    """Issue 18, items 1-3: the attacker (tests/replay/programs/attacker.py) cannot unmount
    /proc, sees no process of the host, finds the key in no environment (the recorder's, its
    own `AUTH_HDR`), cannot read the signing key nor write kernel settings, so it never calls
    the upstream itself; the victim recording it rewrites without the key is then refused by
    `replay` (run without --yes and without a terminal)."""
    project, config = tmp_path / "project", tmp_path / "config"
    project.mkdir()
    with ScriptedServer(key=SECRET) as server:
        victim = _record(server, "victim", project, config, str(PROGRAMS / "team.py"))
        assert victim.returncode == 0, victim.stderr
        done = _record(
            server, "attack", project, config,
            str(PROGRAMS / "attacker.py"), "--upstream", server.base_url, "--victim", "victim",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        printed = (project / "attack" / "mas.stdout").read_text()
        assert "umount /proc: Operation not permitted; processes visible now: 2" in printed
        assert "found key" not in printed and SECRET not in _everything(project / "attack", done)
        assert "signing key: not readable" in printed and "(old signature kept)" in printed
        assert "core_pattern for writing: Read-only file system" in printed
        assert "transparent_hugepage/enabled for writing: Read-only file system" in printed
        assert "nested user namespace, umount /proc: exit 1" in printed
        assert "direct upstream call" not in printed and "honest call: ok" in printed
        # every request that reached the model came through the proxy: team (3) + attacker (1)
        assert server.authorizations == [f"Bearer {SECRET}"] * 4
        refused = _agentracer(
            "replay", "victim", "--at", "0", "--content", "x", "--model", "openai/scripted",
            "--base-url", server.base_url, "--out", "replayed", cwd=project, config=config,
        )  # fmt: skip
    assert refused.returncode == 2 and "refusing to run commands" in refused.stderr
    assert "PWNED" in refused.stderr and not (project / "PWNED").exists()


def test_the_recorder_start_environment_holds_no_key(tmp_path: Path) -> None:
    """Issue 18, item 1: /proc/PID/environ shows the environment a process started with. The
    recorder hands the key to itself through a pipe and executes again without it, so
    while the program runs the recorder's environ (read from outside, as root can) holds no
    key, and the run still spends the key on the upstream."""
    project = tmp_path / "project"
    project.mkdir()
    waiter = project / "wait.py"
    waiter.write_text(
        "import pathlib, time\nfrom openai import OpenAI\n"
        "OpenAI().chat.completions.create(model='m', messages=[{'role': 'user', 'content': 'x'}])\n"
        "pathlib.Path('ready').touch()\n"
        "while not pathlib.Path('go').exists(): time.sleep(0.1)\n"
    )
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "AGENTRACER_CACHE_DIR": str(tmp_path)}
    with ScriptedServer(key=SECRET) as server:
        recorder = subprocess.Popen(
            [sys.executable, "-m", "agentracer.cli", "record", "--model", "openai/scripted",
             "--base-url", server.base_url, "--out", "rec", "--", sys.executable, str(waiter)],
            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not (project / "ready").exists() and recorder.poll() is None:
                assert time.monotonic() < deadline, "the program never ran"
                time.sleep(0.1)
            environ = Path(f"/proc/{recorder.pid}/environ").read_bytes()
            cmdline = Path(f"/proc/{recorder.pid}/cmdline").read_bytes()
        finally:
            (project / "go").touch()
            _, stderr = recorder.communicate(timeout=120)
    assert recorder.returncode == 0, stderr
    assert SECRET.encode() not in environ and SECRET.encode() not in cmdline
    assert b"agentracer.cli\0record" in cmdline  # the same command, executed again
    assert server.authorizations == [f"Bearer {SECRET}"]


def test_the_snoop_cannot_use_the_proxy_without_its_token(tmp_path: Path) -> None:
    """Issue 9: the proxy answers only the run's token, isolated or not; unisolated, the run
    says so, and the recorder's environment still holds no key to read."""
    project = tmp_path / "project"
    project.mkdir()
    with ScriptedServer(key=SECRET) as server:
        done = _agentracer(
            "record", "--model", "openai/scripted", "--base-url", server.base_url,
            "--out", "rec", "--no-isolate", "--", sys.executable, str(PROGRAMS / "snoop.py"),
            cwd=project, config=tmp_path / "config",
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "was not isolated" in done.stderr and "--no-isolate" in done.stderr
    printed = (project / "rec" / "mas.stdout").read_text()
    assert "tokenless chat: 401" in printed and "guessed-key chat: 401" in printed
    assert "tokenless models: 401" in printed and "tokenless event: 401" in printed
    assert "honest call: ok" in printed and SECRET not in _everything(project / "rec", done)
    assert len(server.requests) == 1  # only the honest call reached the model
    assert "intruder" not in (project / "rec" / "recording.json").read_text()


@sandboxed
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user (setpriv)")
def test_the_sandbox_holds_for_an_ordinary_user(monkeypatch) -> None:
    """The same sandbox as an ordinary user (uid 65534 here; needs root to switch): no
    unmounting, its own processes only, a read-only file system but its working directory,
    the config directory empty, no kernel switches, no nested user namespace."""
    import shutil
    import tempfile

    from agentracer.replay import isolation as sandbox

    home = Path(tempfile.mkdtemp(prefix="agentracer-user-"))  # pytest's own is root's only
    (home / "project").mkdir()
    (home / "config").mkdir()
    (home / "config" / "recording-signing.key").write_text("00" * 32)
    home.chmod(0o755)
    shutil.chown(home, 65534, 65534)
    for path in home.rglob("*"):
        shutil.chown(path, 65534, 65534)
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 65534)  # the options an ordinary user gets
    script = (
        "id -u; ls /proc | grep -c '^[0-9]'; umount /proc; ls -A ../config | wc -l; "
        "touch ../outside; touch inside && echo inside-ok; "
        "(exec 3>/proc/sys/kernel/core_pattern); unshare --user true"
    )
    command = isolation().wrap(["sh", "-c", script], cwd=home / "project", hidden=[home / "config"])
    try:
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        outside, inside = (home / "outside").exists(), (home / "project" / "inside").exists()
    finally:
        shutil.rmtree(home)
    said = done.stdout + done.stderr
    assert done.stdout.split()[:2] == ["65534", "4"], said  # bwrap's init, sh, ls, grep
    assert "must be superuser to unmount" in said and "0\n" in done.stdout  # config: empty
    assert "cannot touch '../outside': Read-only file system" in said and "inside-ok" in said
    assert "core_pattern: Read-only file system" in said and "unshare failed" in said
    assert not outside and inside


def test_every_variable_holding_a_key_is_removed(monkeypatch) -> None:
    """Issue 18, item 3: a variable is dropped when its value contains a key the recorder
    knows (from its environment or from the upstream), not only when it equals one."""
    from agentracer.replay.session import _program_env

    class Proxy:  # what _program_env reads of the proxy
        base_url, events_url, token = "http://127.0.0.1:1/v1", "http://127.0.0.1:1/e", "t"

    upstream_key = "sk-upstream-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("AUTH_HDR", f"Bearer {SECRET}")
    monkeypatch.setenv("UPSTREAM_URL", f"https://x.example/?key={upstream_key}")
    monkeypatch.setenv("SAME_KEY", upstream_key)
    monkeypatch.setenv("HARMLESS", "Bearer nothing-secret")
    env = _program_env(Proxy(), Path("/tmp"), secrets=(upstream_key,))  # type: ignore[arg-type]
    assert "AUTH_HDR" not in env and "UPSTREAM_URL" not in env and "SAME_KEY" not in env
    assert env["HARMLESS"] == "Bearer nothing-secret" and env["OPENAI_API_KEY"] == "t"
    assert not any(SECRET in value or upstream_key in value for value in env.values())
