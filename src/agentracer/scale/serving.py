"""Serve a GGUF model (e.g. a trained tracer exported to GGUF) over an OpenAI-compatible API
on a CPU, with xllamacpp's llama.cpp server; tracers and Ray jobs then reach it as
`openai/<alias>` at `http://HOST:PORT/v1`. On a GPU, serve the checkpoint with vLLM instead
(`vllm serve DIR`; see docs/scale.md).

    python -m agentracer.scale.serving MODEL.gguf --host 0.0.0.0 --port 8080 --alias tracer
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
from pathlib import Path
from typing import Any

from agentracer.errors import ModelNotFoundError


def serve_gguf(
    model: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    alias: str | None = None,
    parallel: int = 2,
    context_window: int = 8192,
    threads: int | None = None,
) -> Any:
    """Start serving `model`; returns the xllamacpp server (it serves until collected).

    `parallel` requests decode at once, each with the full `context_window`.
    """
    if not model.is_file():
        raise ModelNotFoundError(f"no GGUF file at {model}")
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.model_alias = {alias or model.stem}
    params.hostnames = [host]
    params.port = port
    params.n_parallel = parallel
    params.n_ctx = context_window * parallel
    params.cpuparams.n_threads = threads or os.cpu_count() or 1
    params.cpuparams_batch.n_threads = params.cpuparams.n_threads
    params.warmup = False
    params.verbosity = -1
    try:
        return xllamacpp.Server(params)
    except Exception as error:  # xllamacpp raises RuntimeError with llama.cpp's text
        raise ModelNotFoundError(f"could not serve {model}: {error}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a .gguf file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--alias", help="the model name clients use (default: the file stem)")
    parser.add_argument("--parallel", type=int, default=2, help="requests decoded at once")
    parser.add_argument("--context-window", type=int, default=8192)
    args = parser.parse_args(argv)
    server = serve_gguf(
        args.model, host=args.host, port=args.port, alias=args.alias,
        parallel=args.parallel, context_window=args.context_window,
    )  # fmt: skip
    print(f"serving {args.model} as openai/{args.alias or args.model.stem} at "
          f"{server.listening_address}/v1", flush=True)  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()


if __name__ == "__main__":
    main()
