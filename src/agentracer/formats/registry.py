"""Name -> trace format, as listed by `agentracer formats` and used to read any file.

A format is an object with a cheap `detect(probe)` and a `parse(probe)` that yields
trajectories (or the error one record raised, so a bad record is reported and skipped, not the
whole file). Formats register with `@register_format`, like tracers do with `register_tracer`.
Detection asks the formats in order of `priority` (lower first) and takes the first that says
yes; each detector must say no to every other format's files, which the tests check. When no
format matches, the formats that come close say what is missing (`near_miss`).

A `Probe` is what detectors and parsers look at: the path, and for a JSON file its records,
decoded lazily and once (a whole-document JSON file is one record, or one per item of a
top-level list; JSON Lines are one record per line). `first()` of a JSON Lines file decodes only
the first line, and `iter_records()` streams the lines, so a 100 MB export is never held twice.

This is the loader boundary, so text is made safe here, once (`formats.text`): a UTF-8 BOM is
accepted, lone surrogates (a cut emoji, `"\\ud83d"`) become U+FFFD, and what was changed is
noted on every trajectory of the file; numbers too long to convert and JSON nested too deeply
are a `TraceFormatError` for that file or record, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from agentracer.errors import TraceFormatError
from agentracer.formats.sniff import plain_text_message
from agentracer.formats.text import Sanitiser, json_error_message, loads, strip_bom
from agentracer.trajectory import Trajectory

Shape = Literal["object", "list", "lines"]
"""How a JSON file held its records: one document, a top-level list, or JSON Lines."""

Parsed = Trajectory | TraceFormatError


@dataclass
class Probe:
    """A file (or an in-memory document) as the formats see it.

    `records()` decodes the file once, on first use, and caches the result; detectors that
    look only at the first record call `first()`. A directory or a binary file has no records
    (`is_json` is False): formats that read those look at `path` themselves.
    """

    path: Path
    _records: list[tuple[str, Any]] | None = field(default=None, repr=False)
    _shape: Shape | None = field(default=None, repr=False)
    _error: TraceFormatError | None = field(default=None, repr=False)
    _first: tuple[bool, Any] | None = field(default=None, repr=False)
    sanitiser: Sanitiser = field(default_factory=Sanitiser, repr=False)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)
    """For detectors that share a costlier look at the file (e.g. which OTLP flavour it is)."""

    @classmethod
    def from_object(cls, obj: Any, *, name: str = "<document>") -> Probe:
        """A probe over an already decoded JSON document, e.g. one received over HTTP.

        Its strings are cleaned like a file's (lone surrogates replaced, and noted).
        """
        sanitiser = Sanitiser()
        obj = sanitiser.value(obj)
        if isinstance(obj, list):
            records = [(str(i), item) for i, item in enumerate(obj)]
            return cls(Path(name), records, "list", sanitiser=sanitiser)
        return cls(Path(name), [("", obj)], "object", sanitiser=sanitiser)

    @property
    def is_json(self) -> bool:
        """True when the probe holds decodable JSON records."""
        if self._records is not None:
            return True
        if not self.path.is_file() or self.path.suffix in BINARY_SUFFIXES:
            return False
        if self._error is None and self._lines_first() is not None:
            return True
        try:
            self._decode()
        except TraceFormatError as error:
            self._error = error
            return False
        return True

    @property
    def shape(self) -> Shape:
        if self._shape is None:
            self.records()
        assert self._shape is not None
        return self._shape

    def records(self) -> list[tuple[str, Any]]:
        """(record key, decoded object) pairs; raises `TraceFormatError` when not JSON."""
        if self._records is None:
            if self._error is not None:
                raise self._error
            self._decode()
        assert self._records is not None
        return self._records

    def first(self) -> Any:
        """The first record, or None when the probe holds no JSON records.

        For JSON Lines only the first line is decoded (detectors stay cheap on big exports).
        """
        if self._records is None and self._error is None and self._lines_first() is not None:
            return self._lines_first()
        if not self.is_json:
            return None
        records = self.records()
        return records[0][1] if records else None

    def iter_records(
        self, on_error: Callable[[TraceFormatError], None] | None = None
    ) -> Iterator[tuple[str, Any]]:
        """(record key, decoded object) pairs, streamed line by line for a JSON Lines file.

        Parsers of large exports use this instead of `records()`: lines are decoded one at a
        time and nothing is cached. A bad line raises its `TraceFormatError` when reached, or,
        with `on_error`, is handed to it and skipped (e.g. the cut last line of an export).
        """
        if self._records is None and self._error is None and self._lines_first() is not None:
            yield from self._stream_lines(on_error)
            return
        yield from self.records()

    def _read_text(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise TraceFormatError(
                f"not a text file (not UTF-8 at byte {error.start})", path=self.path
            ) from None
        return self.sanitiser.text(strip_bom(text, self.sanitiser))

    def _decode(self) -> None:
        text = self._read_text()
        if not text.strip():
            raise TraceFormatError("the file is empty", path=self.path)
        self._records, self._shape = decode_json_records(text, self.path, self.sanitiser)

    def _lines_first(self) -> Any:
        """The decoded first line when the file is JSON Lines (a complete JSON value on the
        first line and more lines after it), else None. Cached."""
        if self._first is None:
            self._first = (False, None)
            if self.path.is_file() and self.path.suffix not in BINARY_SUFFIXES:
                self._first = self._peek_lines()
        return self._first[1] if self._first[0] else None

    def _peek_lines(self) -> tuple[bool, Any]:
        try:
            with self.path.open(encoding="utf-8") as handle:
                lines = (line for line in handle if line.strip())
                head = next(lines, None)
                if head is None or next(lines, None) is None:
                    return False, None
        except (OSError, UnicodeDecodeError):
            return False, None
        try:
            value = loads(strip_bom(head, Sanitiser()))
        except (ValueError, RecursionError):
            return False, None
        if not isinstance(value, dict | list):
            return False, None
        self._shape = "lines"
        return True, Sanitiser().value(value, head)  # counted when the lines are read

    def _stream_lines(
        self, on_error: Callable[[TraceFormatError], None] | None
    ) -> Iterator[tuple[str, Any]]:
        try:
            with self.path.open(encoding="utf-8") as handle:
                for number, line in enumerate(handle, 1):
                    if number == 1:
                        line = strip_bom(line, self.sanitiser)
                    if not line.strip():
                        continue
                    try:
                        value = _decode_line(line, self.path, number, self.sanitiser)
                    except TraceFormatError as error:
                        if on_error is None:
                            raise
                        on_error(error)
                        continue
                    yield f"line{number}", value
        except UnicodeDecodeError as error:
            raise TraceFormatError(
                f"not a text file (not UTF-8 at byte {error.start})", path=self.path
            ) from None


_TRACE_SUFFIXES = frozenset({".json", ".jsonl", ".parquet"})
BINARY_SUFFIXES = frozenset({".parquet", ".arrow", ".gz", ".zip", ".pb", ".bin"})


def decode_json_records(
    text: str, path: Path, sanitiser: Sanitiser | None = None
) -> tuple[list[tuple[str, Any]], Shape]:
    """(record key, decoded object) pairs: a whole-file JSON document, else JSON Lines.

    `sanitiser` (made fresh when not given) replaces lone surrogates in the decoded strings and
    counts them; a number too long or nesting too deep is a `TraceFormatError`.
    """
    sanitiser = sanitiser or Sanitiser()
    try:
        document = sanitiser.value(loads(text), text)
    except json.JSONDecodeError as whole_error:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if len(lines) < 2 and path.suffix != ".jsonl":
            raise TraceFormatError(
                f"not valid JSON (line {whole_error.lineno}, column {whole_error.colno}: "
                f"{whole_error.msg})",
                path=path,
            ) from None
        decoded = [(f"line{n}", _decode_line(line, path, n, sanitiser)) for n, line in lines]
        return decoded, "lines"
    except (ValueError, RecursionError) as error:
        raise TraceFormatError(json_error_message(error), path=path) from None
    if isinstance(document, list):
        return [(str(i), item) for i, item in enumerate(document)], "list"
    return [("", document)], "object"


def _decode_line(line: str, path: Path, number: int, sanitiser: Sanitiser) -> Any:
    try:
        return sanitiser.value(loads(line), line)
    except json.JSONDecodeError as error:
        raise TraceFormatError(
            f"line {number} is not valid JSON (column {error.colno}: {error.msg})", path=path
        ) from None
    except (ValueError, RecursionError) as error:
        raise TraceFormatError(f"line {number}: {json_error_message(error)}", path=path) from None


class TraceFormat(Protocol):
    """What a registered format provides."""

    def detect(self, probe: Probe) -> bool:
        """Cheap yes/no: is this file in my format? Never true for another format's file."""
        ...

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        """Every trajectory in the file, or the error a record raised (a bad record is skipped)."""
        ...

    def near_miss(self, probe: Probe) -> str | None:
        """For a file no format detected: what it lacks to be in this format, if it is close."""
        ...


@dataclass(frozen=True)
class FormatSpec:
    name: str
    summary: str
    format: TraceFormat
    priority: int = 100


_REGISTRY: dict[str, FormatSpec] = {}


def register_format(
    name: str, *, summary: str, priority: int = 100
) -> Callable[[type[Any]], type[Any]]:
    """Class decorator: make instances of the class the format called `name`."""

    def decorate(cls: type[Any]) -> type[Any]:
        if name in _REGISTRY:
            raise ValueError(f"format {name!r} is registered twice")
        _REGISTRY[name] = FormatSpec(name, summary, cls(), priority)
        return cls

    return decorate


def format_specs() -> list[FormatSpec]:
    """Every registered format in detection order (priority, then name)."""
    return sorted(_REGISTRY.values(), key=lambda spec: (spec.priority, spec.name))


def format_spec(name: str) -> FormatSpec:
    """The registration of `name`; an unknown name lists the known ones."""
    spec = _REGISTRY.get(name)
    if spec is None:
        known = ", ".join(s.name for s in format_specs())
        raise TraceFormatError(f"unknown format {name!r}; known formats: {known}")
    return spec


def detect_format(probe: Probe) -> FormatSpec:
    """The first format that recognises `probe`; none is a `TraceFormatError` that says which
    format the file comes closest to and what it lacks."""
    if probe.path.is_file() and probe.path.suffix not in BINARY_SUFFIXES and not probe.is_json:
        # A plain-text log: say so (and whose it looks like), not which line is not JSON
        plain = plain_text_message(probe.path)
        if plain is not None:
            raise TraceFormatError(plain, path=probe.path)
    for spec in format_specs():
        if spec.format.detect(probe):
            return spec
    raise TraceFormatError(_no_format_message(probe), path=probe.path)


def directory_listing(directory: Path) -> str:
    """ "; trace files in it: a.json, b.jsonl, ..." (up to five names), or "" when there are none."""
    inside = sorted(p.name for p in directory.iterdir() if p.suffix in _TRACE_SUFFIXES)
    listed = ", ".join(inside[:5]) + (", ..." if len(inside) > 5 else "")
    return f"; trace files in it: {listed}" if inside else ""


def _no_format_message(probe: Probe) -> str:
    if probe.path.is_dir():
        hint = directory_listing(probe.path)
        return f"is a directory, and no format reads it (give a trace file inside it{hint})"
    if probe._error is not None:  # not JSON at all: that is the clearer message
        return probe._error.message
    for spec in format_specs():
        missing = spec.format.near_miss(probe)
        if missing:
            return f"no known trajectory format; closest is {spec.name}, but {missing}"
    known = ", ".join(s.name for s in format_specs())
    found = _describe(probe.first()) if probe.is_json else "not a JSON file"
    return f"no known trajectory format (known: {known}); found {found}"


def _describe(obj: Any) -> str:
    if isinstance(obj, dict):
        keys = ", ".join(sorted(map(str, obj))[:8]) or "none"
        return f"keys: {keys}"
    return f"a JSON {type(obj).__name__}"


def parse_probe(probe: Probe, format_name: str | None = None) -> Iterator[Parsed]:
    """Parse `probe` with the named format, else with the one detected.

    What the loader boundary changed (BOM, lone surrogates) is noted on every trajectory; a
    record nested too deeply for a parser becomes that record's error, not a `RecursionError`.
    """
    spec = format_spec(format_name) if format_name else detect_format(probe)
    yield from _noted(spec.format.parse(probe), probe)


def _noted(items: Iterable[Parsed], probe: Probe) -> Iterator[Parsed]:
    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except RecursionError:
            yield TraceFormatError(
                "a record is nested too deeply to read (flatten it or split the file)",
                path=probe.path,
            )
            return
        if isinstance(item, Trajectory):
            for note in probe.sanitiser.notes():
                if note not in item.notes:
                    item.notes.append(note)
        yield item


def parse_document(obj: Any, *, name: str = "<document>") -> list[Trajectory]:
    """Trajectories in an already decoded JSON document (e.g. OTLP/JSON received over HTTP).

    The first record that cannot be read raises its `TraceFormatError`.
    """
    trajectories = []
    for item in parse_probe(Probe.from_object(obj, name=name)):
        if isinstance(item, TraceFormatError):
            raise item
        trajectories.append(item)
    return trajectories
