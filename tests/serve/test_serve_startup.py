"""`agentracer serve` refuses to start, with one clear line, when it cannot serve properly
(issue 18 items 14 and 16, issue 20 item 9)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.serve.app import Service
from agentracer.serve.server import ServerSettings
from agentracer.serve.store import TraceStore
from agentracer.serve.worker import WorkerSettings
from tests.serve.conftest import interruptible

runner = CliRunner()


def serve(*args: str, wrap: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*wrap, sys.executable, "-m", "agentracer.cli", "serve", "--port", "0",
         "--tracer", "random", *args],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "80"},
        preexec_fn=interruptible,
    )  # fmt: skip


def started(process: subprocess.Popen[str]) -> str:
    """The banner up to the endpoint line, or all stderr if the server exited first."""
    seen = ""
    deadline = time.monotonic() + 60
    while "OTLP/HTTP" not in seen and time.monotonic() < deadline:
        line = process.stderr.readline()  # type: ignore[union-attr]
        if not line and process.poll() is not None:
            break
        seen += line
    return seen


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    process.wait(timeout=30)


def test_a_second_server_on_one_store_is_refused(tmp_path: Path) -> None:
    first = serve("--store", str(tmp_path))
    try:
        assert "OTLP/HTTP" in started(first)
        second = serve("--store", str(tmp_path))
        _, stderr = second.communicate(timeout=60)
        assert second.returncode == 2, stderr
        line = " ".join(stderr.split())
        assert f"is in use by another `agentracer serve` (pid {first.pid} on " in line
        assert "give this one another --store" in line and "Traceback" not in stderr
    finally:
        stop(first)
    again = serve("--store", str(tmp_path))  # the lock went with the first server
    try:
        assert "OTLP/HTTP" in started(again)
    finally:
        stop(again)


def test_the_lock_is_per_store_and_released_on_stop(tmp_path: Path) -> None:
    def service(store: Path) -> Service:
        running = Service(store, ServerSettings(port=0), WorkerSettings(tracer="random"))
        running.start()
        return running

    one = service(tmp_path / "a")
    two = service(tmp_path / "b")  # another store: fine
    with pytest.raises(Exception, match="in use by another `agentracer serve`"):
        Service(tmp_path / "a", ServerSettings(port=0), WorkerSettings())
    one.stop()
    two.stop()
    service(tmp_path / "a").stop()


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap for a read-only mount")
@pytest.mark.parametrize("existing", [True, False], ids=["a store", "an empty directory"])
def test_a_read_only_store_is_one_clear_line(tmp_path: Path, existing: bool) -> None:
    store = tmp_path / "store"
    store.mkdir()
    if existing:
        TraceStore(store).close()
    wrap = ("bwrap", "--bind", "/", "/", "--ro-bind", str(store), str(store), "--dev", "/dev",
            "--proc", "/proc")  # fmt: skip
    process = serve("--store", str(store), wrap=wrap)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr
    assert "Traceback" not in stderr and "--port" not in stderr
    assert "serve needs a writable store" in " ".join(stderr.split())


def ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6(), reason="no IPv6 on this machine")
def test_host_ipv6_any_listens(tmp_path: Path) -> None:
    process = serve("--host", "::", "--store", str(tmp_path))
    try:
        banner = " ".join(started(process).split())
        assert "OTLP/HTTP: http://[::]:" in banner and "pick another --port" not in banner
    finally:
        stop(process)


def test_a_bad_host_does_not_blame_the_port(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--host", "nosuch.invalid", "--port", "0",
                                 "--store", str(tmp_path), "--tracer", "random"])  # fmt: skip
    assert result.exit_code == 2
    assert "does not resolve" in result.stderr and "--port" not in result.stderr


@pytest.mark.parametrize(
    "rule", ["not " * 100_000 + "error", "-" * 100_000 + "1 == 1", "(" * 300 + "error" + ")" * 300]
)
def test_a_deeply_nested_failed_if_is_one_clear_line(tmp_path: Path, rule: str) -> None:
    result = runner.invoke(app, ["serve", "--failed-if", rule, "--port", "0",
                                 "--store", str(tmp_path), "--tracer", "random"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--failed-if" in result.stderr and "RecursionError" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("option", ["--wait", "--poll", "--quiet", "--follow-timeout"])
@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_forecast_follow_refuses_seconds_that_are_not_a_number(
    tmp_path: Path, option: str, value: str
) -> None:
    TraceStore(tmp_path).close()
    started = time.monotonic()
    result = runner.invoke(app, ["forecast", "--follow", "a" * 32, "--store", str(tmp_path),
                                 "--tracer", "fast-hazard", option, value])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"{option} must be" in result.stderr and time.monotonic() - started < 30


@pytest.mark.parametrize("model", ["nosuch", "local/nosuch.gguf"])
def test_serve_checks_the_model_before_serving(tmp_path: Path, model: str) -> None:
    result = runner.invoke(app, ["serve", "--model", model, "--tracer", "all-at-once",
                                 "--port", "0", "--store", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "OTLP/HTTP" not in result.output and len(result.stderr.strip().splitlines()) == 1
    assert "nosuch" in result.stderr


def test_traces_list_never_breaks_a_trace_id_at_80_columns(tmp_path: Path) -> None:
    from tests.serve.test_cli import TRACE, filled_store

    store = str(filled_store(tmp_path / "store"))
    result = runner.invoke(app, ["traces", "list", "--store", store], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert TRACE in result.stdout and "b" * 32 in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
