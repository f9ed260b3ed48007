"""A real Arize Phoenix server for the export tests, started on free loopback ports with its
SQLite storage in a temporary directory, fully offline (telemetry, external resources and the
agent assistant off).

Phoenix runs from the virtual environment `.ci/phoenix-venv` makes (its pins clash with ours):
`$AGENTRACER_PHOENIX_VENV`, else the script's default cache path. Without it the tests are
skipped, loudly; in CI (`$CI`) they fail instead, since `.ci/run` always makes it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

VERSION = "20.26.1"  # as in .ci/phoenix-venv
DEFAULT_VENV = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "agentracer"
    / f"phoenix-{VERSION}"
)
START_TIMEOUT = 240.0  # seconds; a first start migrates a new database (slow on a busy machine)


@dataclass
class Phoenix:
    url: str
    working_dir: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


def _venv() -> Path:
    venv = Path(os.environ.get("AGENTRACER_PHOENIX_VENV") or DEFAULT_VENV)
    if not (venv / ".complete").is_file() or not (venv / "bin" / "phoenix").is_file():
        message = (
            f"PHOENIX TESTS SKIPPED: no Phoenix environment at {venv} (run .ci/phoenix-venv, "
            "which installs arize-phoenix into it)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        warnings.warn(message, stacklevel=2)
        pytest.skip(message)
    return venv


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def phoenix_environment(working_dir: Path, port: int) -> dict[str, str]:
    """Phoenix's settings: loopback only, SQLite in `working_dir`, nothing sent anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHOENIX_", "OTEL_"))}
    env.update(
        PHOENIX_WORKING_DIR=str(working_dir),
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(port),
        PHOENIX_GRPC_PORT=str(_free_port()),
        PHOENIX_TELEMETRY_ENABLED="false",
        PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
        PHOENIX_DISABLE_AGENT_ASSISTANT="true",
        PHOENIX_AGENTS_DISABLE_BASH="true",
        PHOENIX_AGENTS_DISABLE_WEB_ACCESS="true",
    )
    return env


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    venv = _venv()
    working_dir = tmp_path_factory.mktemp("phoenix")
    port = _free_port()
    log_path = working_dir / "phoenix.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(venv / "bin" / "phoenix"), "serve"],
            env=phoenix_environment(working_dir, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=working_dir,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"Phoenix exited with {process.returncode}:\n{tail}")
            try:
                if httpx.get(f"{url}/v1/projects", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Phoenix did not start within {START_TIMEOUT:g} s")
            time.sleep(1)
        yield Phoenix(url, working_dir)
    finally:
        process.terminate()  # our own child, by its handle
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
