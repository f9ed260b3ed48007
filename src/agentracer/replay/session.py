"""Run a multi-agent program behind the proxy and judge the run: `record` and `replay`.

The program runs in its own process group, and where the system allows in a sandbox it cannot
undo (`replay.isolation`: its own namespaces, no capabilities, a read-only file system but its
working directory and a private TMPDIR, the signing key's directory hidden), with
`OPENAI_BASE_URL` pointed at the proxy and, as `OPENAI_API_KEY`, the run's random token (the
only key the proxy accepts). The real key never reaches it: every credential variable, and
every variable whose value contains a key, is removed from its environment. A time limit kills
the whole group. Afterwards the check runs (in the same sandbox): a
shell command (exit code 0 means success) with `AGENTRACER_MAS_STDOUT` naming the file that
holds what the program printed, or `py:module:function`, a Python function called with the
recording directory that returns whether the run succeeded.
"""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from agentracer.credentials import MIN_SECRET_LENGTH, known_secrets
from agentracer.errors import AgenTracerError
from agentracer.replay import recording as rec
from agentracer.replay.agents import parse_patterns
from agentracer.replay.isolation import Isolation, isolation
from agentracer.replay.policy import LivePolicy, Policy, ReplayPolicy
from agentracer.replay.proxy import ReplayProxy
from agentracer.replay.recording import Outcome, Recording, ReplayInfo
from agentracer.replay.signing import key_dirs, sign
from agentracer.replay.upstream import Upstream
from agentracer.replay.workspace import PrivateCwd

MISSING_COMMAND = 127
WORKDIR = "workdir"  # a private copy of the working directory, inside the run's directory
# Never handed to the recorded program: it gets the run's token as its key instead.
SCRUBBED_ENV = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")


class RecordingExistsError(AgenTracerError):
    """The output directory already holds a recording; nothing is overwritten."""


@dataclass
class Program:
    """A multi-agent program and how to judge it."""

    command: list[str]
    check: str | None = None
    cwd: Path = field(default_factory=Path.cwd)
    timeout: float = 600.0
    check_timeout: float = 120.0
    agent_patterns: list[str] = field(default_factory=list)  # REGEX=AGENT
    isolate: bool = True  # in the sandbox where the system allows (replay.isolation)
    private_cwd: PrivateCwd | None = None  # run in a fresh copy of `cwd` (replay.workspace)


@dataclass(frozen=True)
class Jail:
    """Where one run's program and check run: the sandbox (`isolation`), with the recording
    directory read-only, `tmp` its private temporary directory and `hidden` what it must not
    see (the signing key's directory)."""

    isolation: Isolation
    out_dir: Path
    tmp: Path | None = None
    hidden: tuple[Path, ...] = ()

    def command(self, command: list[str], cwd: Path) -> list[str]:
        """`command` as started from `cwd` (in the sandbox, when there is one)."""
        return self.isolation.wrap(
            command,
            cwd=cwd,
            read_only=[self.out_dir],
            writable=[self.tmp] if self.tmp is not None else [],
            hidden=self.hidden,
        )


def _fresh_dir(out_dir: Path) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        raise RecordingExistsError("already holds files; choose another --out", path=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


def holds_secret(value: str, secrets: set[str]) -> bool:
    """Whether `value` is one of `secrets` or contains one (`Bearer <key>`, a URL with the
    key in it); values too short to be keys are matched whole only."""
    return any(
        value == secret or (len(secret) >= MIN_SECRET_LENGTH and secret in value)
        for secret in secrets
    )


def _program_env(
    proxy: ReplayProxy, out_dir: Path, secrets: tuple[str, ...] = (), tmp: Path | None = None
) -> dict[str, str]:
    """The recorder's environment minus every credential (by name, and any variable whose
    value holds one of `secrets` or of the keys this process knows), plus the proxy's address
    and the run's token as the API key; `tmp` as the temporary directory."""
    known = {value for value in secrets if value} | known_secrets()
    known |= {os.environ[name] for name in SCRUBBED_ENV if os.environ.get(name)}
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in SCRUBBED_ENV and not holds_secret(value, known)
    }
    if tmp is not None:
        env.update(TMPDIR=str(tmp), TMP=str(tmp), TEMP=str(tmp))
    env.update(
        OPENAI_BASE_URL=proxy.base_url,
        OPENAI_API_BASE=proxy.base_url,  # older clients
        OPENAI_API_KEY=proxy.token,  # the real key stays with the proxy's upstream
        AGENTRACER_PROXY_TOKEN=proxy.token,
        AGENTRACER_EVENTS_URL=proxy.events_url,
        AGENTRACER_RECORDING_DIR=str(out_dir),
    )
    return env


def _run_program(
    program: Program, env: dict[str, str], out_dir: Path, jail: Jail
) -> tuple[int | None, str]:
    """(exit code or None on timeout, message)."""
    if shutil.which(program.command[0], path=env.get("PATH")) is None:
        return MISSING_COMMAND, f"cannot start {program.command[0]!r}: no such program"
    with (
        (out_dir / rec.STDOUT_FILE).open("wb") as stdout,
        (out_dir / rec.STDERR_FILE).open("wb") as stderr,
    ):
        try:
            process = subprocess.Popen(
                jail.command(program.command, program.cwd),
                cwd=program.cwd,
                env=env,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        except (FileNotFoundError, PermissionError) as error:
            return MISSING_COMMAND, f"cannot start {program.command[0]!r}: {error.strerror}"
        try:
            return process.wait(timeout=program.timeout), ""
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return None, f"the program ran past {program.timeout:g} s and was killed"
        except BaseException:  # Ctrl-C: the program does not outlive its recorder
            _kill_group(process)
            raise


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


PY_CHECK = "py:"


def _run_python_check(spec: str, out_dir: Path) -> Outcome:
    """`py:module:function`: `function(recording_dir: Path) -> bool` judges the run."""
    module_name, _, function_name = spec.removeprefix(PY_CHECK).partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError, ValueError) as error:
        return Outcome(
            status="check-missing",
            mas_exit_code=0,
            message=f"the check {spec!r} cannot be loaded: {error}",
        )
    try:
        success = bool(function(out_dir))
    except Exception as error:  # the user's check failed to run: the run is not judged a success
        (out_dir / rec.CHECK_FILE).write_text(
            f"{type(error).__name__}: {error}\n", encoding="utf-8"
        )
        return Outcome(
            status="failure",
            success=False,
            mas_exit_code=0,
            message=f"the check raised {type(error).__name__}",
        )
    return Outcome(status="success" if success else "failure", success=success, mas_exit_code=0)


def _run_check(program: Program, env: dict[str, str], out_dir: Path, jail: Jail) -> Outcome:
    if not program.check:
        return Outcome(status="unchecked", mas_exit_code=0, message="no check was given")
    if program.check.startswith(PY_CHECK):
        return _run_python_check(program.check, out_dir)
    env = {**env, "AGENTRACER_MAS_STDOUT": str(out_dir / rec.STDOUT_FILE)}
    try:
        done = subprocess.run(
            jail.command(["/bin/sh", "-c", program.check], program.cwd), cwd=program.cwd, env=env,
            capture_output=True, timeout=program.check_timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return Outcome(
            status="failure", success=False, mas_exit_code=0, message="the check timed out"
        )
    (out_dir / rec.CHECK_FILE).write_bytes(done.stdout + done.stderr)
    if done.returncode == MISSING_COMMAND:
        return Outcome(
            status="check-missing", mas_exit_code=0, check_exit_code=done.returncode,
            message=f"the check command was not found: {program.check}",
        )  # fmt: skip
    success = done.returncode == 0
    return Outcome(
        status="success" if success else "failure", success=success, mas_exit_code=0,
        check_exit_code=done.returncode,
    )  # fmt: skip


def _judge(
    program: Program,
    proxy: ReplayProxy,
    exit_code: int | None,
    message: str,
    env: dict[str, str],
    out_dir: Path,
    jail: Jail,
) -> Outcome:
    if proxy.divergences:
        return Outcome(status="diverged", mas_exit_code=exit_code, message=proxy.divergences[0])
    if exit_code is None:
        return Outcome(status="timeout", success=False, message=message)
    if exit_code != 0:
        detail = message or f"the program exited with code {exit_code}"
        if proxy.errors:
            detail += f"; proxy: {proxy.errors[0]}"
        return Outcome(status="crashed", success=False, mas_exit_code=exit_code, message=detail)
    if proxy.call_count == 0:
        return Outcome(
            status="no-calls", mas_exit_code=0, message="the program never called the model"
        )
    return _run_check(program, env, out_dir, jail)


def run_session(
    program: Program,
    policy: Policy,
    out_dir: Path,
    *,
    model_name: str,
    replay: ReplayInfo | None = None,
    secrets: tuple[str, ...] = (),
) -> Recording:
    """Run `program` once behind a proxy answering with `policy`; write and return the recording
    (signed, see `replay.signing`). `secrets` are credentials the program must never see."""
    _fresh_dir(out_dir)
    isolated = isolation(program.isolate)
    jail = Jail(
        isolated,
        out_dir,
        Path(tempfile.mkdtemp(prefix="agentracer-tmp-")) if isolated.active else None,
        key_dirs() if isolated.active else (),
    )
    copied: Path | None = None
    try:
        if program.private_cwd is not None and not program.private_cwd.shared:
            copied = program.private_cwd.copy(program.cwd, out_dir / WORKDIR)
        running = program if copied is None else replace(program, cwd=copied)
        jail.command(["true"], running.cwd)  # a sandbox that cannot hold fails before the run
        return _session(program, running, policy, out_dir, jail, model_name, replay, secrets)
    finally:
        if copied is not None:
            PrivateCwd.remove(copied)
        if jail.tmp is not None:
            shutil.rmtree(jail.tmp, ignore_errors=True)


def _session(
    program: Program,
    running: Program,
    policy: Policy,
    out_dir: Path,
    jail: Jail,
    model_name: str,
    replay: ReplayInfo | None,
    secrets: tuple[str, ...],
) -> Recording:
    recording = Recording(
        isolation=jail.isolation.description,
        id=uuid.uuid4().hex[:12],
        command=program.command,
        check=program.check,
        cwd=str(program.cwd),
        agent_patterns=program.agent_patterns,
        model=model_name,
        replay=replay,
    )
    try:
        patterns = parse_patterns(program.agent_patterns)
    except ValueError as error:
        raise AgenTracerError(str(error)) from None
    log = rec.EventLog(out_dir / rec.EVENTS_FILE)
    log.append(
        {
            "kind": "header",
            "recording": recording.model_dump(mode="json", exclude={"events", "outcome"}),
        }
    )
    proxy = ReplayProxy(policy, log, model_name=model_name, patterns=patterns).start()
    started = time.perf_counter()
    try:
        env = _program_env(proxy, out_dir, secrets, jail.tmp)
        exit_code, message = _run_program(running, env, out_dir, jail)
    finally:
        proxy.stop()
        log.close()
    recording.seconds = time.perf_counter() - started
    recording.events = rec.renumbered(list(proxy.events))
    recording.task = proxy.task
    recording.outcome = _judge(running, proxy, exit_code, message, env, out_dir, jail)
    if replay is not None and isinstance(policy, ReplayPolicy):
        recording.replay = replay.model_copy(update={"divergence": policy.divergence})
    recording = sign(recording)
    rec.save(recording, out_dir)
    return recording


def record(program: Program, upstream: Upstream, out_dir: Path) -> Recording:
    """Run `program` with every model call answered live by `upstream`."""
    return run_session(
        program,
        LivePolicy(upstream),
        out_dir,
        model_name=upstream.name,
        secrets=getattr(upstream, "secrets", ()),
    )


def replay(
    source_dir: Path,
    at: int,
    content: str,
    upstream: Upstream,
    out_dir: Path,
    *,
    on_divergence: Literal["fail", "live"] = "fail",
    timeout: float | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    isolate: bool = True,
    private_cwd: PrivateCwd | None = None,
) -> Recording:
    """Re-run a recorded program: calls before `at` from the recording, call `at` answered
    with `content` (and `tool_calls`, if given), later calls live. The replayed run is itself a
    recording. With `private_cwd` it runs in a fresh copy of the recorded working directory
    (`out_dir/workdir`, removed afterwards; see `replay.workspace`)."""
    source = rec.load(source_dir)
    policy = ReplayPolicy(source, at, content, upstream, on_divergence, tool_calls)
    program = Program(
        command=source.command,
        check=source.check,
        cwd=Path(source.cwd),
        timeout=timeout or max(60.0, 3 * source.seconds),
        agent_patterns=source.agent_patterns,
        isolate=isolate,
        private_cwd=private_cwd,
    )
    info = ReplayInfo(
        source=str(source_dir),
        at=at,
        content=content,
        tool_calls=tool_calls,
        on_divergence=on_divergence,
    )
    return run_session(
        program,
        policy,
        out_dir,
        model_name=upstream.name,
        replay=info,
        secrets=getattr(upstream, "secrets", ()),
    )
