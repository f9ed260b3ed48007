"""Install hints name our distribution: `agentracer` on PyPI is an unrelated project."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.errors import DISTRIBUTION, install_hint
from agentracer.scale.cluster import RAY_INSTALL_HINT

REPO = Path(__file__).resolve().parent.parent
# `agentracer[...]` not preceded by a name character or a dash (so `agentracer-attribution[`
# and `'.[view]'` pass); the import package and the command are `agentracer`, never an extra.
WRONG = re.compile(r"(?<![\w-])agentracer\[")


def user_visible_files() -> list[Path]:
    sources = [*(REPO / "src").rglob("*.py"), *(REPO / "src").rglob("*.html")]
    return [*sources, REPO / "README.md", *(REPO / "docs").glob("*.md")]


def test_no_text_names_the_unrelated_project() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for path in user_visible_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if WRONG.search(line)
    ]
    assert offenders == []


def test_hints_come_from_one_place() -> None:
    assert DISTRIBUTION == "agentracer-attribution"
    assert install_hint("view") == "pip install 'agentracer-attribution[view]'"
    assert install_hint("scale") in RAY_INSTALL_HINT


def test_ray_help_names_the_distribution() -> None:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["eval", "--help"])
    assert result.exit_code == 0
    flat = " ".join(result.stdout.split())
    assert "agentracer-attribution[scale]" in flat and not WRONG.search(flat)
