"""Run the receiver, the worker and the UI together until interrupted."""

from __future__ import annotations

import threading
from pathlib import Path

from platformdirs import user_data_dir

from agentracer.evaluation.lock import RunLock
from agentracer.serve.assemble import Assembler
from agentracer.serve.server import ServerSettings, TraceServer, is_loopback
from agentracer.serve.store import StoreError, TraceStore
from agentracer.serve.worker import Worker, WorkerSettings
from agentracer.tracers import Tracer

SERVE_LOCK = ".serve.lock"


def default_store_dir() -> Path:
    """`$AGENTRACER_STORE` is read by the CLI; this is the fallback: a user data directory."""
    return Path(user_data_dir("agentracer")) / "traces"


class Service:
    """The server and the worker over one store; `start()` returns once both run."""

    def __init__(
        self,
        store_dir: Path,
        server: ServerSettings,
        worker: WorkerSettings,
        *,
        assembler: Assembler | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        # One server per store: two would both attribute every failed trace (twice the model
        # calls) and race on its state. The kernel drops the lock when the process dies.
        self._lock = RunLock(
            Path(store_dir), name=SERVE_LOCK, holder="another `agentracer serve`",
            hint="stop it first, or give this one another --store",
        )  # fmt: skip
        try:
            self._lock.__enter__()
        except OSError as error:  # a read-only store (or directory we may not write)
            raise StoreError(
                f"cannot write the store directory ({error.strerror}); serve needs a writable "
                "store (give another --store)",
                path=store_dir,
            ) from None
        try:
            self.store = TraceStore(store_dir)
            self.httpd = TraceServer(server, self.store)
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        self.worker = Worker(self.store, worker, assembler=assembler, tracer=tracer)
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="agentracer-http", daemon=True
        )

    @property
    def endpoint(self) -> str:
        return self.httpd.endpoint

    @property
    def exposed(self) -> bool:
        """True when the server listens beyond this machine."""
        return not is_loopback(self.httpd.settings.host)

    def start(self) -> None:
        # Traces no importer could read are read again: the importers may be newer now.
        self.store.reopen_unreadable()
        self.worker.start()
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.worker.stop()
        self.store.close()
        self._lock.__exit__(None, None, None)
