"""Counted nouns in messages: "1 trajectory", "2 trajectories" (never "1 trajectories")."""

from __future__ import annotations


def plural(noun: str) -> str:
    """The regular English plural of `noun` (trajectory -> trajectories, call -> calls)."""
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def count(n: int, noun: str, plural_form: str | None = None) -> str:
    """`n` and the noun, singular for exactly one: count(1, "step") == "1 step".

    A multi-word noun is inflected on its last word: count(2, "model call") == "2 model calls";
    give `plural_form` for an irregular one."""
    if n == 1:
        return f"{n} {noun}"
    if plural_form is None:
        head, _, last = noun.rpartition(" ")
        plural_form = f"{head} {plural(last)}" if head else plural(last)
    return f"{n} {plural_form}"
