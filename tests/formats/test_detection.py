"""Each format's detector says yes to its own files and no to every other format's."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentracer.formats import format_specs
from agentracer.formats.registry import Probe
from tests.conftest import EXAMPLE
from tests.formats.otel_helpers import GENAI, OPENINFERENCE

FILES = {
    EXAMPLE: "who-and-when",
    GENAI: "otel-genai",
    OPENINFERENCE: "openinference",
}


@pytest.mark.parametrize(("path", "expected"), FILES.items(), ids=lambda v: str(v)[-30:])
def test_exactly_one_format_detects_each_file(path: Path, expected: str) -> None:
    detected = [spec.name for spec in format_specs() if spec.format.detect(Probe(path))]
    assert detected == [expected]


def test_our_own_jsonl_of_an_otel_import_is_ours(tmp_path: Path) -> None:
    from agentracer.formats import load_file, write_jsonl

    out = tmp_path / "ours.jsonl"
    write_jsonl(load_file(GENAI), out)
    detected = [spec.name for spec in format_specs() if spec.format.detect(Probe(out))]
    assert detected == ["agentracer"]
