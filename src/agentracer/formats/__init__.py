"""Readers and writers for trajectory formats, and the benchmark locator."""

from agentracer.formats.benchmarks import Benchmark, load_benchmark
from agentracer.formats.files import iter_file, load_file, load_one
from agentracer.formats.native import write_jsonl
from agentracer.formats.who_and_when import parse_record, to_record

__all__ = [
    "Benchmark",
    "iter_file",
    "load_benchmark",
    "load_file",
    "load_one",
    "parse_record",
    "to_record",
    "write_jsonl",
]
