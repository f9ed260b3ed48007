"""A private working directory for one replay: a fresh copy of the recorded one.

A program that writes files in its working directory (scratch files, generated code, a
SQLite file) cannot share it with another run of itself: two replays running at the same time
(`annotate --ray`) would read each other's files. With a `PrivateCwd`, a replay runs in a copy
of the recorded directory made just before it starts and removed once it has been judged.

The rule, so that the copy stays cheap and predictable:
- everything under the recorded directory is copied, except the paths in `exclude` (the
  annotate output directory, when it lies inside: other replays write there meanwhile);
- symbolic links are copied as links, not followed (a linked data set or virtual environment
  costs nothing and is shared read-only in spirit);
- when the files to copy add up to more than `limit_bytes`, nothing is copied and
  `WorkspaceError` says so: raise the limit, or share the recorded directory
  (`limit_bytes=0`: then concurrent replays may interfere).

Files the program writes by absolute path, outside its working directory, are not isolated.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from agentracer.errors import AgenTracerError

DEFAULT_LIMIT_MB = 64
MB = 1024 * 1024


class WorkspaceError(AgenTracerError):
    """The recorded working directory is too large to copy for every replay (or missing)."""


@dataclass(frozen=True)
class PrivateCwd:
    """Copy the recorded working directory for each replay (see the module docstring)."""

    limit_bytes: int = DEFAULT_LIMIT_MB * MB
    exclude: tuple[Path, ...] = field(default_factory=tuple)

    @property
    def shared(self) -> bool:
        """True when replays run in the recorded directory itself (no copy)."""
        return self.limit_bytes <= 0

    def _excluded(self, dest: Path | None) -> set[Path]:
        # the copy itself, when it lies inside the source, is never copied into itself
        return {path.resolve() for path in (*self.exclude, *([dest] if dest else []))}

    def size(self, source: Path, dest: Path | None = None) -> int:
        """Bytes that a copy of `source` (to `dest`) would take (links counted as links)."""
        excluded = self._excluded(dest)
        total = 0
        for root, dirs, files in os.walk(source):
            dirs[:] = [d for d in dirs if (Path(root) / d).resolve() not in excluded]
            for name in files + [d for d in dirs if (Path(root) / d).is_symlink()]:
                try:
                    total += (Path(root) / name).lstat().st_size
                except OSError:
                    continue  # vanished meanwhile
            if total > self.limit_bytes:
                break  # already too large: no need to count the rest
        return total

    def check(self, source: Path, dest: Path | None = None) -> None:
        """Raise `WorkspaceError` unless `source` exists and is small enough to copy."""
        if not source.is_dir():
            raise WorkspaceError(
                f"the recorded working directory {source} does not exist here; replays run in "
                "a copy of it, so it must be at the same path on every machine that replays"
            )
        if self.size(source, dest) > self.limit_bytes:
            raise WorkspaceError(
                f"the recorded working directory {source} holds over "
                f"{self.limit_bytes / MB:g} MB, too much to copy for every replay; "
                "raise --cwd-copy-limit, or pass --cwd-copy-limit 0 to run every replay in the "
                "recorded directory itself (concurrent replays may then clobber its files)"
            )

    def copy(self, source: Path, dest: Path) -> Path:
        """A fresh copy of `source` at `dest` (replacing a leftover one); returns `dest`."""
        self.check(source, dest)
        excluded = self._excluded(dest)

        def ignore(directory: str, names: list[str]) -> list[str]:
            return [n for n in names if (Path(directory) / n).resolve() in excluded]

        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(source, dest, symlinks=True, ignore=ignore)
        return dest

    @staticmethod
    def remove(dest: Path) -> None:
        shutil.rmtree(dest, ignore_errors=True)
