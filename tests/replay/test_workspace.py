"""A replay's private working directory: what is copied, the size limit, and its removal."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from agentracer.replay.session import WORKDIR, record, replay
from agentracer.replay.workspace import MB, PrivateCwd, WorkspaceError
from tests.replay.conftest import ARITHMETIC, ArithmeticUpstream, team


def test_the_copy_keeps_links_and_leaves_out_the_excluded(tmp_path: Path) -> None:
    source = tmp_path / "project"
    (source / "data").mkdir(parents=True)
    (source / "data" / "input.txt").write_text("2 3")
    (source / "big").mkdir()
    (source / "big" / "blob").write_bytes(b"x" * 1000)
    (source / "out").mkdir()  # e.g. the annotate output directory
    (source / "out" / "other-replay.txt").write_text("busy")
    (source / "link").symlink_to(source / "big")
    copy = PrivateCwd(exclude=(source / "out",)).copy(source, tmp_path / "copy")
    assert (copy / "data" / "input.txt").read_text() == "2 3"
    assert not (copy / "out").exists()
    assert (copy / "link").is_symlink() and (copy / "big" / "blob").stat().st_size == 1000


def test_a_copy_inside_its_source_does_not_copy_itself(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "runs" / "r0").mkdir(parents=True)
    (tmp_path / "runs" / "r0" / "events.jsonl").write_text("{}")
    copy = PrivateCwd().copy(tmp_path, tmp_path / "runs" / "r0" / WORKDIR)
    assert (copy / "a.txt").read_text() == "a"
    assert (copy / "runs" / "r0" / "events.jsonl").is_file()
    assert not (copy / "runs" / "r0" / WORKDIR).exists()


def test_a_directory_over_the_limit_is_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "blob").write_bytes(b"x" * (MB + 1))
    with pytest.raises(WorkspaceError, match="--cwd-copy-limit"):
        PrivateCwd(limit_bytes=MB).copy(tmp_path / "src", tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
    assert PrivateCwd(limit_bytes=0).shared


def test_a_replay_writes_in_its_copy_and_the_copy_is_removed(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    program = dataclasses.replace(
        team(*ARITHMETIC, "--scratch", "scratch.txt", expect="approved"), cwd=project
    )
    record(program, ArithmeticUpstream(buggy=True), tmp_path / "failed")
    (project / "scratch.txt").unlink()  # the recording's own file
    fixed = "The sum of the two numbers is 5."
    out = tmp_path / "replayed"
    replayed = replay(
        tmp_path / "failed", 1, fixed, ArithmeticUpstream(buggy=True), out,
        private_cwd=PrivateCwd(),
    )  # fmt: skip
    assert replayed.outcome.status == "success"
    assert replayed.cwd == str(project)  # the recorded directory, not the removed copy
    assert not (project / "scratch.txt").exists()  # written into the copy only
    assert not (out / WORKDIR).exists()


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="does not exist here"):
        PrivateCwd().copy(tmp_path / "gone", tmp_path / "copy")
