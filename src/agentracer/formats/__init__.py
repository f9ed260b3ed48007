"""Readers and writers for trajectory formats, and the benchmark locator.

Importing this package registers every format (`formats.registry`); each format module holds
one source format.
"""

from agentracer.formats import (  # register the formats
    ag2,
    agentrx,
    agents_sdk,
    autogen,
    langchain,
    langfuse,
    langsmith,
    mast,
    native,
    openinference,
    otel,
    recorded_run,
    smolagents,
    tau_bench,
    tracertraj,
    who_and_when,
)
from agentracer.formats.benchmarks import Benchmark, load_benchmark
from agentracer.formats.files import iter_file, load_file, load_one
from agentracer.formats.native import write_jsonl
from agentracer.formats.registry import (
    FormatSpec,
    Probe,
    detect_format,
    format_spec,
    format_specs,
    parse_document,
    register_format,
)
from agentracer.formats.who_and_when import parse_record, to_record

__all__ = [
    "Benchmark",
    "FormatSpec",
    "Probe",
    "ag2",
    "agentrx",
    "agents_sdk",
    "autogen",
    "detect_format",
    "format_spec",
    "format_specs",
    "iter_file",
    "langchain",
    "langfuse",
    "langsmith",
    "load_benchmark",
    "load_file",
    "load_one",
    "mast",
    "native",
    "openinference",
    "otel",
    "parse_document",
    "parse_record",
    "recorded_run",
    "register_format",
    "smolagents",
    "tau_bench",
    "to_record",
    "tracertraj",
    "who_and_when",
    "write_jsonl",
]
