"""Text made safe once, where files are read (the loader boundary).

Real exports hold text that breaks later steps: a UTF-8 byte-order mark at the start of the
file, a lone UTF-16 surrogate escaped in JSON (`"\\ud83d"`, an emoji cut in half by a
truncating logger) that cannot be encoded again (so `show`, `convert` and the response cache
key would crash on it), integers too long for Python to convert, JSON nested deeper than the
decoder's recursion limit. `Sanitiser` fixes the first two and counts what it changed, so the
trajectory can say so in its notes; `json_error_message` turns the last two into one readable
line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

BOM = "\ufeff"
REPLACEMENT = "\ufffd"

# A JSON escape of a surrogate code unit; only text that holds one can decode to a lone surrogate.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


_LONG_NUMBER = re.compile(r"[:\[,]\s*-?\d{19}")


def loads(text: str) -> Any:
    """Decode JSON text: orjson for speed, and the standard library for what orjson refuses.

    orjson is several times faster on the large exports users import, but refuses some JSON
    that Python accepts (lone surrogate escapes, integers over 64 bits, NaN, deep nesting);
    those fall back to `json.loads`, so what is accepted and the error messages stay exactly
    the standard library's. orjson would also turn an integer beyond 64 bits into a float, so
    a text with a bare number of 19 digits or more goes to the standard library too.
    """
    if _LONG_NUMBER.search(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _may_hold_surrogate(raw: str) -> bool:
    # `in` scans at C speed; the regexes only run on text with a \\uD... escape or a surrogate
    # (a str read from UTF-8 never holds one, but a str handed over in memory may).
    if ("\\ud" in raw or "\\uD" in raw) and _ESCAPED_SURROGATE.search(raw):
        return True
    return raw.isascii() is False and _SURROGATE.search(raw) is not None


def strip_bom(text: str, sanitiser: Sanitiser) -> str:
    """`text` without a leading UTF-8 byte-order mark (counted on `sanitiser`)."""
    if text.startswith(BOM):
        sanitiser.bom = True
        return text[1:]
    return text


def clean_text(text: str) -> tuple[str, int]:
    """`text` with every lone surrogate replaced by U+FFFD, and how many were replaced.

    A surrogate pair that survived as two code units (a JSON `\\ud83d\\ude00` decodes to one
    character, so this is rare) is joined back into its character.
    """
    if not _SURROGATE.search(text):
        return text, 0
    fixed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return fixed, fixed.count(REPLACEMENT) - text.count(REPLACEMENT)


@dataclass
class Sanitiser:
    """Cleans decoded JSON values and remembers what it changed (for the trajectory's notes)."""

    surrogates: int = 0
    bom: bool = False

    def text(self, text: str) -> str:
        fixed, count = clean_text(text)
        self.surrogates += count
        return fixed

    def value(self, value: Any, raw: str | None = None) -> Any:
        """`value` with lone surrogates replaced in every string (keys too).

        `raw` is the JSON text `value` was decoded from: when it holds no surrogate escape the
        walk is skipped, so clean files (nearly all) cost one regex scan.
        """
        if raw is not None and not _may_hold_surrogate(raw):
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        # Iterative: a deeply nested record must not turn into a RecursionError here.
        root = [value]
        stack: list[tuple[Any, Any]] = [(root, 0)]
        while stack:
            container, key = stack.pop()
            item = container[key]
            if isinstance(item, str):
                container[key] = self.text(item)
            elif isinstance(item, list):
                stack.extend((item, i) for i in range(len(item)))
            elif isinstance(item, dict):
                if any(isinstance(k, str) and _SURROGATE.search(k) for k in item):
                    fixed = {self.text(k): v for k, v in item.items()}
                    item.clear()
                    item.update(fixed)
                stack.extend((item, k) for k in item)
        return root[0]

    def notes(self) -> list[str]:
        """What was changed, one note each, for the trajectories read from the file."""
        notes = []
        if self.bom:
            notes.append("the file starts with a UTF-8 byte-order mark (ignored)")
        if self.surrogates:
            notes.append(
                f"replaced {self.surrogates} lone UTF-16 surrogate(s) in the file (e.g. a cut emoji) "
                "with U+FFFD while reading"
            )
        return notes


def json_error_message(error: BaseException) -> str:
    """One line for a JSON decoding failure that is not a syntax error."""
    if isinstance(error, RecursionError):
        return "JSON nested too deeply to read (flatten the record or split the file)"
    text = str(error)
    if "integer string conversion" in text or "digits" in text:
        return "holds an integer with too many digits to read (over 4300); quote it as a string"
    return f"not valid JSON ({text.splitlines()[0] if text else type(error).__name__})"


MAX_DEPTH = 100
"""Deepest nesting a record may have: JSON's decoder accepts ~1000 levels, but serialising a
trajectory (pydantic) and the prompts stop far earlier, so deeper records are refused here."""


def nesting_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deep `value` nests (a scalar is 0), counting no further than `limit` + 1."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        depth += 1
        deepest = max(deepest, depth)
        if depth > limit:
            return depth
        stack.extend((child, depth) for child in item if isinstance(child, dict | list))
    return deepest


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Raise `ValueError` (turned into the record's `TraceFormatError`) for a record nested too
    deeply to be written back or sent to a model."""
    if nesting_depth(value, limit) > limit:
        raise ValueError(f"the record nests more than {limit} levels deep; flatten it")
