"""What the README tells a new user to run: its folders do not collide, its serve snippet runs,
and what it says about `view`, `attribute --help` and `feedback` is what the commands do."""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.formats import format_specs
from tests.conftest import EXAMPLE

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
NARROW = CliRunner(env={"COLUMNS": "80"})
# Commands whose --out is a recording, which `annotate` reads.
RECORDING_WRITERS = {"record", "replay"}


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def commands() -> list[list[str]]:
    """Every `agentracer ...` command of the README's bash blocks, as argument lists."""
    found = []
    for block in blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" # ")[0].split("&&")[-1].strip()
            if line.startswith("agentracer "):
                found.append(shlex.split(line)[1:])
    return found


def written(argv: list[str]) -> list[str]:
    """What a command writes: its --out, and `faithfulness`'s RUN.faithfulness/ beside RUN."""
    paths = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--out"]
    if argv[0] == "faithfulness":
        paths.append(argv[1] + ".faithfulness")
    return paths


def test_annotate_reads_only_recordings_the_readme_made() -> None:
    every = commands()
    globs = [argv[1] for argv in every if argv[0] == "annotate"]
    assert globs, "the README shows `annotate`"
    for pattern in globs:
        for argv in every:
            for path in written(argv):
                if fnmatch.fnmatch(path, pattern):
                    assert argv[0] in RECORDING_WRITERS, (
                        f"`annotate {pattern}` would read {path}, written by `{argv[0]}`"
                    )


def test_the_serve_client_snippet_runs() -> None:
    snippet = next(b for b in blocks("python") if "OTLPSpanExporter" in b)
    assert "pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http" in " ".join(
        README.split()
    )
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, "-c", snippet], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_every_view_page_needs_the_view_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "Every `view` page needs the `view` extra" in " ".join(README.split())
    monkeypatch.setitem(sys.modules, "jinja2", None)  # as without the extra
    result = NARROW.invoke(app, ["view", str(EXAMPLE), "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 2
    assert "pip install 'agentracer-attribution[view]'" in result.stderr


def test_attribute_help_lists_every_format_family() -> None:
    result = NARROW.invoke(app, ["attribute", "--help"])
    assert result.exit_code == 0
    text = re.sub(r"-\s+", "-", " ".join(result.stdout.split()))  # help wraps at hyphens too
    for spec in format_specs():
        assert spec.name in text, spec.name
