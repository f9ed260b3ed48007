"""Reading the committed OpenTelemetry test traces back as raw spans, for the tests to compare
the importers' steps with what the SDKs wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
GENAI = DATA / "otel_genai.jsonl"
OPENINFERENCE = DATA / "openinference_openai.json"
WRONG = "21.0 million"


def documents(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return [json.loads(text)]


def raw_spans(path: Path) -> list[dict[str, Any]]:
    return [
        span
        for document in documents(path)
        for resource in document["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


def attribute(span: dict[str, Any], key: str) -> Any:
    for item in span.get("attributes", []):
        if item["key"] == key:
            return next(iter(item["value"].values()))
    return None


def span_holding(path: Path, key: str, text: str) -> dict[str, Any]:
    """The one span whose attribute `key` holds `text`."""
    found = [s for s in raw_spans(path) if text in str(attribute(s, key) or "")]
    assert len(found) == 1, found
    return found[0]


def one_document(path: Path) -> dict[str, Any]:
    """All the file's spans in one OTLP/JSON document, in reverse file order."""
    spans = list(reversed(raw_spans(path)))
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]}
