"""Replaying one substituted step up to k times and letting the majority decide.

Multi-agent systems are stochastic, so a label needs most replays to agree. The replays stop
as soon as the majority is decided either way.

The replay directories belong to the search, so a search run again after its driver was killed
(`annotate` after `kill -9`, a Ray task retried) resumes: a replay that finished with the same
substitution is reused as it is, and whatever else is there (a replay cut off by the kill) is
removed and run again.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats.recording import Recording, load
from agentracer.replay.session import replay
from agentracer.replay.upstream import Upstream
from agentracer.replay.workspace import PrivateCwd


@dataclass
class Vote:
    """The replays made for one candidate and whether the wanted outcome won the majority."""

    replays: list[tuple[Path, Recording]] = field(default_factory=list)
    won: bool = False
    wins: int = 0

    @property
    def outcomes(self) -> list[str]:
        return [recording.outcome.status for _, recording in self.replays]

    @property
    def agreement(self) -> float:
        return self.wins / len(self.replays) if self.replays else 0.0


def majority_replay(
    recording_dir: Path,
    call: int,
    content: str,
    upstream: Upstream,
    *,
    k: int,
    out_prefix: Path,
    wanted: Callable[[Recording], bool],
    tool_calls: list[dict[str, Any]] | None = None,
    private_cwd: PrivateCwd | None = None,
) -> Vote:
    """Replay `recording_dir` with call `call` answered by `content`, at most `k` times (the
    i-th into `<out_prefix>-i`), until `wanted` outcomes win or can no longer win a majority.
    `private_cwd`: each replay in its own copy of the recorded working directory."""
    vote = Vote()
    for attempt in range(k):
        out = out_prefix.with_name(f"{out_prefix.name}-{attempt}")
        replayed = finished_replay(out, recording_dir, call, content, tool_calls)
        if replayed is None:
            if out.exists():
                shutil.rmtree(out)  # cut off by a kill: run again
            replayed = replay(
                recording_dir, call, content, upstream, out, tool_calls=tool_calls,
                private_cwd=private_cwd,
            )  # fmt: skip
        vote.replays.append((out, replayed))
        vote.wins += wanted(replayed)
        if vote.wins > k / 2 or len(vote.replays) - vote.wins >= k / 2:
            break
    vote.won = vote.wins > k / 2
    return vote


def finished_replay(
    out: Path,
    recording_dir: Path,
    call: int,
    content: str,
    tool_calls: list[dict[str, Any]] | None,
) -> Recording | None:
    """The replay in `out` when it finished, of `recording_dir` with call `call` answered by
    `content` and `tool_calls`; None otherwise (nothing there, cut off, another substitution)."""
    if not out.is_dir():
        return None
    try:
        done = load(out)
    except TraceFormatError:
        return None
    info = done.replay
    if done.outcome.status == "interrupted" or info is None:
        return None
    same = (info.source, info.at, info.content, info.tool_calls)
    return done if same == (str(recording_dir), call, content, tool_calls) else None
