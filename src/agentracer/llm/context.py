"""Fitting a log into a context window without losing its structure.

Strategy: never drop, merge or renumber a step. When the log is too long, cap every step's
content at the same length L, the largest L that fits the budget, cutting the *middle* of each
over-long content (its beginning and end usually say what the step was and how it ended) and
leaving a marker that says how much was cut. Short steps are untouched.
"""

from __future__ import annotations

from collections.abc import Callable

Messages = list[dict[str, str]]
PromptBuilder = Callable[[list[str]], Messages]

MARKER = " […{} characters omitted…] "
MIN_KEEP = 40


def cut_middle(text: str, keep: int) -> str:
    """`text` shortened to at most `keep` characters (marker included) by removing its middle."""
    if len(text) <= keep:
        return text
    marker = MARKER.format(len(text))  # an upper bound on the marker's final length
    kept = max(keep - len(marker), MIN_KEEP)
    head = (kept + 1) // 2
    tail = kept - head
    return text[:head] + MARKER.format(len(text) - kept) + (text[-tail:] if tail else "")


def fit_contents(contents: list[str], budget: int | None) -> tuple[list[str], int]:
    """Contents capped so their total length is at most `budget` characters.

    Returns the (possibly) shortened contents and how many were shortened. A budget of None
    means no limit. Each cut content keeps at least `MIN_KEEP` characters of its own, so a tiny
    budget may be exceeded rather than emptying the steps.
    """
    if budget is None or sum(map(len, contents)) <= budget:
        return contents, 0
    low, high = 0, max(map(len, contents))
    while low < high:  # the largest cap whose capped total fits
        mid = (low + high + 1) // 2
        if sum(min(len(c), mid) for c in contents) <= budget:
            low = mid
        else:
            high = mid - 1
    cap = max(low, MIN_KEEP)
    fitted = [cut_middle(c, cap) for c in contents]
    return fitted, sum(len(c) > cap for c in contents)


def prompt_length(messages: Messages) -> int:
    """Characters of message content in a prompt."""
    return sum(len(message["content"]) for message in messages)


def fit_prompt(
    contents: list[str], build: PromptBuilder, prompt_chars: int | None
) -> tuple[Messages, int]:
    """The messages `build` makes from `contents`, the contents cut (see `fit_contents`) so the
    whole prompt is at most `prompt_chars` characters; also how many contents were cut."""
    if prompt_chars is None:
        return build(contents), 0
    overhead = prompt_length(build([""] * len(contents)))  # instructions, task, step prefixes
    fitted, trimmed = fit_contents(contents, prompt_chars - overhead)
    return build(fitted), trimmed
