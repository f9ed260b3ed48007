"""Agent-name normalisation shared by loaders, tracers, evaluation and the training reward.

One function decides when two spellings name the same agent, so that a verdict scored by the
evaluation harness and a completion scored by the reward agree.
"""

from __future__ import annotations

import re

_CHANNEL_SUFFIX = re.compile(r"\s*\([^()]*\)\s*$")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def speaker_agent(speaker: str) -> str:
    """Strip a trailing channel annotation from a raw speaker string.

    Magentic-One logs write one agent's turns as `Orchestrator (thought)`,
    `Orchestrator (-> WebSurfer)` or `Orchestrator (termination condition)`; all are the
    agent `Orchestrator`.

    >>> speaker_agent("Orchestrator (-> WebSurfer)")
    'Orchestrator'
    """
    return _CHANNEL_SUFFIX.sub("", speaker).strip()


def normalise_agent(name: str | None) -> str:
    """Canonical comparison key for an agent name: case, spaces, `-`/`_` and channel suffixes ignored.

    `Web Surfer`, `web_surfer`, `**WebSurfer**` and `WebSurfer (thought)` all map to `websurfer`.
    An empty or missing name maps to the empty string, which never equals a real agent.

    >>> normalise_agent("Verification_Expert") == normalise_agent("verification-expert")
    True
    """
    if not name:
        return ""
    return _NOT_ALNUM.sub("", speaker_agent(name).casefold())


def same_agent(a: str | None, b: str | None) -> bool:
    """True when both names are non-empty and normalise to the same key."""
    key = normalise_agent(a)
    return bool(key) and key == normalise_agent(b)
