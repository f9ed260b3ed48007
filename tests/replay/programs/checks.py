"""Python check functions for the replay-lab tests (`--check py:tests.replay.programs.checks:approved`)."""

from pathlib import Path


def approved(recording_dir: Path) -> bool:
    return "FINAL: approved" in (recording_dir / "mas.stdout").read_text()


def broken(recording_dir: Path) -> bool:
    raise RuntimeError("this check is broken")
