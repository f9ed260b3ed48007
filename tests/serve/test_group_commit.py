"""Group commit (issue 22 item 3): concurrent `put_spans` calls share one transaction and one
fsync, each returns only once its transaction is committed, and one request whose data fails
fails alone."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from agentracer.serve.store import TraceStore
from tests.serve.test_store import span


def test_concurrent_requests_share_a_commit_and_return_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TraceStore(tmp_path)
    commits: list[tuple[int, float]] = []  # (requests in the transaction, when it committed)
    commit_group = store._commit_group

    def slow_commit(group):  # type: ignore[no-untyped-def]
        time.sleep(0.1)  # a slow fsync: the other requests queue up meanwhile
        commit_group(group)
        commits.append((len(group), time.monotonic()))

    monkeypatch.setattr(store, "_commit_group", slow_commit)
    returned: dict[int, float] = {}
    visible: dict[int, bool] = {}

    def export(n: int) -> None:
        store.put_spans([span(trace=f"{n + 1:032x}")])
        returned[n] = time.monotonic()
        # Acknowledged means committed: another connection sees the span at once.
        reader = sqlite3.connect(store.path)
        visible[n] = (
            reader.execute(
                "SELECT count(*) FROM spans WHERE trace_id=?", (f"{n + 1:032x}",)
            ).fetchone()[0]
            == 1
        )
        reader.close()

    threads = [threading.Thread(target=export, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(size for size, _ in commits) == 16
    assert len(commits) <= 4, commits  # 16 requests, a handful of transactions (not 16)
    assert all(visible.values()) and len(visible) == 16
    assert min(returned.values()) >= commits[0][1]  # nobody returned before a commit
    assert len(store.list_traces()) == 16


def test_a_request_that_fails_in_a_group_fails_alone(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    good = [span(trace="1" * 32)]
    bad = [span(trace="2" * 32, start=2**70)]  # too big for SQLite: fails in the insert
    errors: list[BaseException] = []

    def put(spans) -> None:  # type: ignore[no-untyped-def]
        try:
            store.put_spans(spans)
        except BaseException as error:
            errors.append(error)

    with store._write_lock:  # hold the lock so both requests join one group
        threads = [threading.Thread(target=put, args=(s,)) for s in (good, bad)]
        for thread in threads:
            thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join(timeout=10)
    assert [type(e).__name__ for e in errors] == ["OverflowError"]
    assert [t.trace_id for t in store.list_traces()] == ["1" * 32]
