"""Say what a file that no format reads looks like, so the refusal names the framework.

Multi-agent frameworks often log to plain text (ChatDev, AppWorld's supervisor, OpenManus, the
AutoGen testbed that runs Magentic-One, MetaGPT's console). No reader turns those into steps:
their turns are not delimited reliably. A user who passes one deserves "a plain-text ChatDev
log", not "line 3 is not valid JSON".
"""

from __future__ import annotations

import re
from pathlib import Path

_HEAD_BYTES = 256 * 1024

# (framework, pattern): the first that matches the head of the text names it.
SIGNATURES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ChatDev", re.compile(r"\*\*ChatDev Starts\*\*|ChatChainConfig\.json|\[ChatDev\]")),
    ("AppWorld", re.compile(r"\*{10,} Task \d+/\d+|Response from Supervisor Agent")),
    ("HyperAgent", re.compile(r"HyperAgent_\S+ - INFO - ")),
    ("OpenManus", re.compile(r"app\.flow\.planning|app\.agent\.(manus|toolcall)|OpenManus")),
    (
        "Magentic-One (AutoGen testbed)",
        re.compile(
            r"AUTOGEN_TESTBED_SETTING|autogen[-_]magentic[-_]one|MagenticOne|Orchestrator \(thought\)"
        ),
    ),
    ("MetaGPT", re.compile(r"MetaGPT Agent Communication Log|metagpt\.(roles|actions)\.")),
    ("AG2 / AutoGen console", re.compile(r"^\S+ \(to \S+\):\s*$", re.MULTILINE)),
)


def framework_of(text: str) -> str | None:
    """The framework whose log `text` looks like, or None."""
    for name, pattern in SIGNATURES:
        if pattern.search(text):
            return name
    return None


def plain_text_message(path: Path) -> str | None:
    """The refusal for a plain-text (not JSON) file, naming the framework it looks like; None
    when the file is not text, or is meant as JSON (named `.json`, or starting like JSON) and
    looks like no framework's log: then the JSON error (which line, which column) says more."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not a character cut by the read limit
            return None
        text = head[: error.start].decode("utf-8")
    stripped = text.lstrip("\ufeff \t\r\n")
    framework = framework_of(text)
    claims_json = path.suffix in (".json", ".jsonl") or stripped[:1] in ("[", "{")
    if not stripped or (claims_json and framework is None):
        return None  # empty, or meant as JSON and broken: its own error says more
    if framework is None:
        return (
            "is a plain-text file, not a JSON trace (trace formats are JSON, JSON Lines or "
            "parquet; `agentracer formats` lists them)"
        )
    return plain_log_message(framework)


def plain_log_message(framework: str) -> str:
    """The refusal for a text log of `framework`."""
    return (
        f"is a plain-text {framework} log, not a JSON trace: no reader turns {framework} text "
        "logs into steps (export the run's messages as JSON; `agentracer formats` lists what "
        "is read)"
    )
