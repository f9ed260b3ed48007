"""The trace store: spans as received, traces as assembled, verdicts beside them.

One SQLite file in WAL mode. The interface is narrow on purpose (put spans, get a trace, list
traces, put a verdict, plus the few queries the worker needs) so another database could
replace SQLite without touching the receiver, the worker or the UI.

Durability: `put_spans` writes a whole request in one transaction with `synchronous=FULL`, so
when it returns the spans are on disk; the receiver acknowledges only after that. Concurrent
calls share a transaction and its fsync (group commit: the thread that gets the write lock
commits every request queued meanwhile, each in a savepoint of its own), and each returns only
once that transaction is committed. A span is
keyed by (trace id, span id), so an exporter that retries a request it never saw acknowledged
does not store anything twice. A process killed mid-write leaves the previous transaction
intact (SQLite rolls the unfinished one back on the next open).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentracer.errors import AgenTracerError
from agentracer.trajectory import Trajectory, Verdict

STORE_FILE = "traces.sqlite3"

# Trace states, in the order a trace goes through them.
OPEN = "open"  # spans are arriving; not assembled yet
PENDING = "pending"  # assembled, failed, waiting for a verdict
DONE = "done"  # assembled; a verdict is stored, or the run did not fail
UNREADABLE = "unreadable"  # no importer could make a trajectory of it (see `problem`)
GAVE_UP = "gave up"  # assembling or attributing it crashed or hung MAX_ATTEMPTS times (`problem`)

MAX_ATTEMPTS = 3
"""How often the worker tries one trace (assembly, then attribution) before giving up on it. An
attempt is counted before it starts, so a trace that kills or hangs the whole server is given
up after as many restarts."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_id TEXT,
    name TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER,
    error INTEGER NOT NULL,
    resource TEXT NOT NULL,
    scope TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (trace_id, span_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS traces (
    trace_id TEXT PRIMARY KEY,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    n_spans INTEGER NOT NULL DEFAULT 0,
    root_name TEXT,
    root_ended INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'open',
    failed INTEGER,
    agents TEXT NOT NULL DEFAULT '[]',
    n_steps INTEGER,
    trajectory TEXT,
    problem TEXT,
    retry_at REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS traces_state ON traces (state, last_seen);
CREATE TABLE IF NOT EXISTS verdicts (
    trace_id TEXT NOT NULL,
    tracer TEXT NOT NULL,
    created REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (trace_id, tracer)
);
"""


@dataclass(frozen=True)
class SpanRecord:
    """One received span in OTLP/JSON shape (hex ids, integer enums), with where it came from."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int | None
    error: bool
    resource: dict[str, Any]
    scope: dict[str, Any]
    body: dict[str, Any]


@dataclass
class TraceSummary:
    """A row of the trace list."""

    trace_id: str
    first_seen: float
    last_seen: float
    n_spans: int
    root_name: str | None
    root_ended: bool
    state: str
    failed: bool | None
    agents: list[str]
    n_steps: int | None
    problem: str | None
    verdicts: list[Verdict] = field(default_factory=list)
    attempts: int = 0

    @property
    def verdict(self) -> Verdict | None:
        return self.verdicts[0] if self.verdicts else None


@dataclass
class StoredTrace:
    """A whole trace: its summary, spans, assembled trajectory (if any) and verdicts."""

    summary: TraceSummary
    spans: list[SpanRecord]
    trajectory: Trajectory | None


class StoreError(AgenTracerError):
    """The store cannot be opened or read."""


class StoreUnavailableError(StoreError):
    """The store cannot take a write now (disk full, read-only, deleted): the receiver answers
    503, which exporters retry."""


class TraceStore:
    """Spans, trajectories and verdicts in one SQLite file under `directory`.

    Safe to share between threads: writes take a lock, every thread reads on its own
    connection (WAL lets readers run beside the writer).
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(
                f"cannot create the store directory ({error.strerror})", path=directory
            ) from None
        self.path = self.directory / STORE_FILE
        self._identity: tuple[int, int] | None = None  # the file's (device, inode) once open
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._queue: list[_Request] = []  # put_spans calls waiting for a group commit
        self._queue_lock = threading.Lock()
        with self._write_lock:
            db = self._connection()
            try:
                db.executescript(_SCHEMA)  # idempotent; commits on its own
            except sqlite3.OperationalError as error:  # read-only file or directory, full disk
                raise StoreError(
                    f"cannot write the trace store ({error}); serve needs a writable store",
                    path=self.path,
                ) from None
            columns = {row["name"] for row in db.execute("PRAGMA table_info(traces)")}
            if "attempts" not in columns:  # a store written before attempts were counted
                db.execute("ALTER TABLE traces ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
            stat = self.path.stat()
            self._identity = (stat.st_dev, stat.st_ino)

    # -- connections -------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")  # acknowledged means on disk
            except sqlite3.DatabaseError as error:
                raise StoreError(f"not a trace store ({error})", path=self.path) from None
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        db = self._connection()
        with self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # also a COMMIT that failed (disk full) leaves it open
                    db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- the narrow interface ----------------------------------------------------------------

    def put_spans(self, spans: Sequence[SpanRecord], *, now: float | None = None) -> int:
        """Store `spans` in one transaction; returns how many were new (duplicates are ignored).

        A trace that receives a new span goes back to `open`, so it is assembled again once it
        settles (a late span changes the run).
        """
        now = time.time() if now is None else now
        # Spans of one request share their resource and scope objects: serialise each once.
        dumped: dict[int, str] = {}

        def dump_shared(obj: Any) -> str:
            key = id(obj)
            if key not in dumped:
                dumped[key] = _dump(obj)
            return dumped[key]

        rows = [
            (
                span.trace_id, span.span_id, span.parent_id, span.name, span.start_ns, span.end_ns,
                int(span.error), dump_shared(span.resource), dump_shared(span.scope), _dump(span.body),
            )
            for span in spans
        ]  # fmt: skip
        roots = [span for span in spans if span.parent_id is None]
        self.check_present()
        request = _Request(rows, roots, list(dict.fromkeys(span.trace_id for span in spans)), now)
        with self._queue_lock:
            self._queue.append(request)
        # Group commit: whoever holds the write lock commits every request queued so far in one
        # transaction (one fsync). A request that waited for the lock has usually been committed
        # by then, by the thread before it; else it leads the next group.
        with self._write_lock:
            if not request.done:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._commit_group(group)
        if request.error is not None:
            raise request.error
        return request.new

    def _commit_group(self, group: list[_Request]) -> None:
        """Commit `group` in one transaction; each request in a savepoint of its own, so one
        that fails alone does not take the others with it. Called with the write lock held."""
        try:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                for request in group:
                    db.execute("SAVEPOINT request")
                    try:
                        request.new = _insert_spans(db, request)
                    except Exception as error:  # this request's data: it fails alone
                        db.execute("ROLLBACK TO request")
                        request.error = error
                    db.execute("RELEASE request")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # also a COMMIT that failed (disk full)
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:  # disk full, I/O error, read-only: nothing was stored
            failure = StoreUnavailableError(f"cannot store the spans ({error})", path=self.path)
            for request in group:
                request.error, request.new = failure, 0
        except BaseException as error:
            for request in group:
                request.error, request.new = error, 0
            raise
        finally:
            for request in group:
                request.done = True
        for request in group:
            if isinstance(request.error, sqlite3.Error):
                request.error = StoreUnavailableError(
                    f"cannot store the spans ({request.error})", path=self.path
                )

    def check_present(self) -> None:
        """Refuse to write into a store file that was deleted or replaced since it was opened:
        SQLite would go on writing into the unlinked file, and acknowledged spans would be lost."""
        try:
            stat = self.path.stat()
        except OSError:
            stat = None
        if stat is None or (stat.st_dev, stat.st_ino) != self._identity:
            raise StoreUnavailableError(
                "the store file was deleted or replaced while serve ran; restart serve",
                path=self.path,
            )

    def get_trace(self, trace_id: str) -> StoredTrace | None:
        """The trace with its spans (by start time), trajectory and verdicts; None if unknown."""
        db = self._connection()
        row = db.execute("SELECT * FROM traces WHERE trace_id=?", (trace_id,)).fetchone()
        if row is None:
            return None
        spans = [
            SpanRecord(
                trace_id=r["trace_id"],
                span_id=r["span_id"],
                parent_id=r["parent_id"],
                name=r["name"],
                start_ns=r["start_ns"],
                end_ns=r["end_ns"],
                error=bool(r["error"]),
                resource=json.loads(r["resource"]),
                scope=json.loads(r["scope"]),
                body=json.loads(r["body"]),
            )
            for r in db.execute(
                "SELECT * FROM spans WHERE trace_id=? ORDER BY start_ns", (trace_id,)
            )
        ]
        trajectory = (
            Trajectory.model_validate_json(row["trajectory"]) if row["trajectory"] else None
        )
        return StoredTrace(self._summary(row), spans, trajectory)

    def list_traces(
        self, *, failed: bool | None = None, limit: int = 500, offset: int = 0
    ) -> list[TraceSummary]:
        """Traces, most recent first; `failed=True` keeps only runs judged failed."""
        where = "" if failed is None else "WHERE failed = ?"
        params: tuple[Any, ...] = () if failed is None else (int(failed),)
        rows = self._connection().execute(
            f"SELECT * FROM traces {where} ORDER BY last_seen DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [self._summary(row) for row in rows]

    def put_verdict(self, trace_id: str, verdict: Verdict) -> None:
        """Store `verdict` beside the trace (one per tracer: a new one replaces the old) and
        mark the trace done."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?)",
                (trace_id, verdict.tracer, time.time(), verdict.model_dump_json()),
            )
            db.execute(
                "UPDATE traces SET state=?, problem=NULL, attempts=0 WHERE trace_id=? AND state=?",
                (DONE, trace_id, PENDING),
            )

    # -- what the worker needs ---------------------------------------------------------------

    def settled(self, *, quiet: float, orphan_quiet: float, now: float | None = None) -> list[str]:
        """Open traces ready to assemble: the root span ended and nothing arrived for `quiet`
        seconds, or no root arrived at all and nothing for `orphan_quiet` seconds."""
        now = time.time() if now is None else now
        rows = self._connection().execute(
            "SELECT trace_id FROM traces WHERE state=? AND retry_at<=? AND "
            "((root_ended=1 AND last_seen<=?) OR last_seen<=?) ORDER BY last_seen",
            (OPEN, now, now - quiet, now - orphan_quiet),
        )
        return [row["trace_id"] for row in rows]

    def pending(self, *, now: float | None = None) -> list[str]:
        """Failed traces that wait for a verdict and are not backing off after an error."""
        now = time.time() if now is None else now
        rows = self._connection().execute(
            "SELECT trace_id FROM traces WHERE state=? AND retry_at<=? ORDER BY last_seen",
            (PENDING, now),
        )
        return [row["trace_id"] for row in rows]

    def put_assembly(
        self,
        trace_id: str,
        *,
        last_seen: float,
        trajectory: Trajectory | None,
        failed: bool | None,
        problem: str | None = None,
    ) -> bool:
        """Record the assembled trajectory (or why there is none). Returns False, storing
        nothing, when a span arrived after `last_seen` (the trace will settle again)."""
        state = UNREADABLE if trajectory is None else PENDING if failed else DONE
        with self._write() as db:
            cursor = db.execute(
                "UPDATE traces SET state=?, failed=?, trajectory=?, agents=?, n_steps=?, "
                "problem=?, attempts=0, retry_at=0 WHERE trace_id=? AND state=? AND last_seen=?",
                (
                    state,
                    None if failed is None else int(failed),
                    None if trajectory is None else trajectory.model_dump_json(),
                    _dump([] if trajectory is None else trajectory.agents),
                    None if trajectory is None else len(trajectory.steps),
                    problem, trace_id, OPEN, last_seen,
                ),
            )  # fmt: skip
            return cursor.rowcount == 1

    def put_problem(self, trace_id: str, problem: str, *, retry_in: float) -> None:
        """An attribution failed for a reason that is not the trace's (the model endpoint is
        down): say why, try again after `retry_in` s, and do not count the attempt."""
        with self._write() as db:
            db.execute(
                "UPDATE traces SET problem=?, retry_at=?, attempts=max(attempts - 1, 0) "
                "WHERE trace_id=?",
                (problem, time.time() + retry_in, trace_id),
            )

    def begin_attempt(self, trace_id: str, what: str) -> int | None:
        """Count an attempt at `what` ("assembly", "attribution") before it starts; returns its
        number. Until the attempt ends, the trace says it did not finish: the reason that is
        left if the server dies during it. A trace that has had its MAX_ATTEMPTS already (the
        server died during each) is given up instead, and None returned."""
        with self._write() as db:
            row = db.execute(
                "SELECT attempts, problem FROM traces WHERE trace_id=?", (trace_id,)
            ).fetchone()
            if row is None:
                return None
            if int(row["attempts"]) >= MAX_ATTEMPTS:
                db.execute(
                    "UPDATE traces SET state=?, problem=? WHERE trace_id=?",
                    (GAVE_UP, f"gave up after {MAX_ATTEMPTS} attempts: {row['problem']}", trace_id),
                )
                return None
            attempt = int(row["attempts"]) + 1
            db.execute(
                "UPDATE traces SET attempts=?, problem=? WHERE trace_id=?",
                (attempt, f"{what} attempt {attempt} did not finish (the server stopped during it)",
                 trace_id),
            )  # fmt: skip
        return attempt

    def end_attempt(self, trace_id: str) -> None:
        """An attempt was interrupted by a shutdown, not by the trace: it does not count."""
        with self._write() as db:
            db.execute(
                "UPDATE traces SET attempts=max(attempts - 1, 0), problem=NULL WHERE trace_id=?",
                (trace_id,),
            )

    def put_failure(self, trace_id: str, problem: str, *, retry_in: float) -> bool:
        """An attempt failed because of the trace (a crash, a hang): say why, and give the trace
        up once it has had MAX_ATTEMPTS attempts, else try again after `retry_in` s. Returns
        True when it was given up."""
        with self._write() as db:
            row = db.execute("SELECT attempts FROM traces WHERE trace_id=?", (trace_id,)).fetchone()
            give_up = row is not None and int(row["attempts"]) >= MAX_ATTEMPTS
            if give_up:
                problem = f"gave up after {MAX_ATTEMPTS} attempts: {problem}"
            db.execute(
                "UPDATE traces SET problem=?, retry_at=?, state=CASE WHEN ? THEN ? ELSE state END "
                "WHERE trace_id=?",
                (problem, time.time() + retry_in, give_up, GAVE_UP, trace_id),
            )
        return give_up

    def attempts(self, trace_id: str) -> int:
        row = (
            self._connection()
            .execute("SELECT attempts FROM traces WHERE trace_id=?", (trace_id,))
            .fetchone()
        )
        return 0 if row is None else int(row["attempts"])

    def reopen_unreadable(self) -> int:
        """Put traces that no importer could read back in the queue; returns how many."""
        with self._write() as db:
            return db.execute(
                "UPDATE traces SET state=?, problem=NULL WHERE state=?", (OPEN, UNREADABLE)
            ).rowcount

    # -- helpers -----------------------------------------------------------------------------

    def _summary(self, row: sqlite3.Row) -> TraceSummary:
        verdicts = [
            Verdict.model_validate_json(v["body"])
            for v in self._connection().execute(
                "SELECT body FROM verdicts WHERE trace_id=? ORDER BY created DESC",
                (row["trace_id"],),
            )
        ]
        return TraceSummary(
            trace_id=row["trace_id"],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
            n_spans=row["n_spans"],
            root_name=row["root_name"],
            root_ended=bool(row["root_ended"]),
            state=row["state"],
            failed=None if row["failed"] is None else bool(row["failed"]),
            agents=json.loads(row["agents"]),
            n_steps=row["n_steps"],
            problem=row["problem"],
            verdicts=verdicts,
            attempts=row["attempts"],
        )


@dataclass
class _Request:
    """One `put_spans` call waiting for its group commit."""

    rows: list[tuple[Any, ...]]
    roots: list[SpanRecord]
    trace_ids: list[str]
    now: float
    done: bool = False
    new: int = 0
    error: BaseException | None = None


def _insert_spans(db: sqlite3.Connection, request: _Request) -> int:
    """Write one request's spans inside the open transaction; returns how many were new."""
    before = db.total_changes
    db.executemany("INSERT OR IGNORE INTO spans VALUES (?,?,?,?,?,?,?,?,?,?)", request.rows)
    new = db.total_changes - before
    if not new:
        return 0  # all duplicates: the traces did not change
    # Counting (rather than adding what was new) keeps n_spans right whatever the mix of new
    # and duplicate spans; a trace whose count did not change is left as it was.
    db.executemany(
        "INSERT INTO traces (trace_id, first_seen, last_seen, n_spans) "
        "SELECT ?1, ?2, ?2, count(*) FROM spans WHERE trace_id=?1 "
        "ON CONFLICT (trace_id) DO UPDATE SET last_seen=excluded.last_seen, "
        "n_spans=excluded.n_spans, state='open', retry_at=0, attempts=0 "
        "WHERE n_spans != excluded.n_spans",
        [(trace_id, request.now) for trace_id in request.trace_ids],
    )
    db.executemany(
        "UPDATE traces SET root_name=?, root_ended=? WHERE trace_id=?",
        [(span.name, int(span.end_ns is not None), span.trace_id) for span in request.roots],
    )
    return new


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
