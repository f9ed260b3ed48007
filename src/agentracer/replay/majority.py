"""Replaying one substituted step up to k times and letting the majority decide.

Multi-agent systems are stochastic, so a label needs most replays to agree. The replays stop
as soon as the majority is decided either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentracer.formats.recording import Recording
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
