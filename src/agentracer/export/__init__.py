"""Verdicts where people already look: OpenTelemetry evaluation events (`export.otlp`), Arize
Phoenix span annotations (`export.phoenix`), and the one JSON schema of `--json`
(`export.document`). Every destination is a `VerdictSink` opened by URL (`open_sink`)."""

from agentracer.export.base import Delivery, VerdictSink, open_sink
from agentracer.export.blame import EVALUATION_NAME, Blame, blame_of

__all__ = ["EVALUATION_NAME", "Blame", "Delivery", "VerdictSink", "blame_of", "open_sink"]
