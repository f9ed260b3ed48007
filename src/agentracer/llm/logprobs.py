"""Per-token surprise of a text under a small GGUF language model, on CPU, without torch.

llama.cpp's server returns log-probabilities of *generated* tokens only (an `echo` of the
prompt's log-probabilities was proposed upstream and never merged), so the prompt's are computed
here in two halves: xllamacpp runs the model in embedding mode with no pooling, which returns
every token's final hidden state (after the output norm), and numpy multiplies those by the
model's output matrix, read from the GGUF file with the `gguf` package, and takes the
log-softmax. The negative log-likelihood of token t+1 given tokens 0..t is the surprise.

Long texts are scored in windows so that cost stays linear in length: every window starts with
the same `anchor` (the task), then `overlap` tokens of what came just before, then new tokens;
only the new tokens are scored.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy
import orjson

from agentracer.errors import LLMError, ModelNotFoundError, install_hint

DEFAULT_WINDOW = 1024
DEFAULT_OVERLAP = 256
LOGIT_ROWS = 256  # rows of logits held at once (256 x 49k vocabulary x 4 bytes = 50 MB)


def _gguf() -> Any:
    try:
        import gguf
    except ImportError:
        raise LLMError(
            "language-model surprise reads the model's output matrix with the gguf package: "
            + install_hint("signals")
        ) from None
    return gguf


def output_matrix(model_path: Path) -> numpy.ndarray:
    """The model's output projection (vocabulary x hidden) as float32: `output.weight`, or the
    token embeddings when the model ties them (SmolLM2 does)."""
    gguf = _gguf()
    reader = gguf.GGUFReader(str(model_path))
    tensors = {tensor.name: tensor for tensor in reader.tensors}
    tensor = tensors.get("output.weight") or tensors.get("token_embd.weight")
    if tensor is None:
        raise ModelNotFoundError(f"{model_path} has neither output.weight nor token_embd.weight")
    matrix = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
    return numpy.ascontiguousarray(matrix, dtype=numpy.float32)


def token_nll(
    hidden: numpy.ndarray, targets: Sequence[int] | numpy.ndarray, matrix: numpy.ndarray
) -> numpy.ndarray:
    """Negative log-likelihood of `targets[i]` from the hidden state at row i (nats)."""
    out = numpy.empty(len(targets), dtype=numpy.float32)
    wanted = numpy.asarray(targets, dtype=numpy.int64)
    for start in range(0, len(targets), LOGIT_ROWS):
        rows = slice(start, start + LOGIT_ROWS)
        logits = hidden[rows] @ matrix.T
        top = logits.max(axis=1, keepdims=True)
        log_total = numpy.log(numpy.exp(logits - top).sum(axis=1)) + top[:, 0]
        picked = logits[numpy.arange(logits.shape[0]), wanted[rows]]
        out[rows] = log_total - picked
    return out


def windows(n: int, anchor: int, window: int, overlap: int) -> list[tuple[int, int, int]]:
    """(context start, first scored, end) of each forward pass over n tokens: every pass holds
    the anchor, then up to `overlap` earlier tokens, then new ones, at most `window` in all."""
    fresh = window - anchor - overlap
    if fresh < 1:
        raise ValueError(
            f"window {window} leaves no room after anchor {anchor} + overlap {overlap}"
        )
    passes = []
    start = 0
    while start < n:
        first_window = start == 0
        end = min(n, start + (window - anchor if first_window else fresh))
        passes.append((max(0, start - overlap), start, end))
        start = end
    return passes


class SurpriseModel:
    """A GGUF causal language model loaded once, scoring the surprise of token sequences.

    `window` is the most tokens one forward pass holds (llama.cpp needs a whole embedding
    request in one micro-batch); `threads` defaults to `$AGENTRACER_THREADS`, else every core.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        window: int = DEFAULT_WINDOW,
        overlap: int = DEFAULT_OVERLAP,
        threads: int | None = None,
    ) -> None:
        if not model_path.is_file():
            raise ModelNotFoundError(f"no model file at {model_path}")
        self.model_path = model_path
        self.window = window
        self.overlap = overlap
        threads_set = threads or os.environ.get("AGENTRACER_THREADS")
        self.threads = int(threads_set) if threads_set else (os.cpu_count() or 1)
        self._server: Any = None
        self._matrix: numpy.ndarray | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, numpy.ndarray]:
        with self._lock:
            if self._server is None:
                import xllamacpp

                params = xllamacpp.CommonParams()
                params.model.path = str(self.model_path)
                params.n_ctx = self.window
                params.n_batch = self.window
                params.n_ubatch = self.window
                params.n_parallel = 1
                params.embedding = True
                params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_NONE
                params.cpuparams.n_threads = self.threads
                params.cpuparams_batch.n_threads = self.threads
                params.warmup = False
                params.verbosity = -1
                try:
                    server = xllamacpp.Server(params)
                except Exception as error:  # xllamacpp raises RuntimeError with llama.cpp's text
                    raise ModelNotFoundError(f"could not load {self.model_path}: {error}") from None
                self._matrix = output_matrix(self.model_path)
                self._server = server
            assert self._matrix is not None
            return self._server, self._matrix

    def _post(self, route: str, body: dict[str, Any]) -> Any:
        server, _ = self._load()
        request = urllib.request.Request(
            f"{server.listening_address}{route}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as response:  # loopback only
                return orjson.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:300]
            raise LLMError(f"the surprise model refused {route}: {detail}") from None

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text`, no special tokens added and none parsed from the text (a log
        that quotes `<|im_start|>` is scored as the characters it is)."""
        if not text:
            return []
        body = {"content": text, "add_special": False, "parse_special": False}
        return [int(t) for t in self._post("/tokenize", body)["tokens"]]

    def detokenize(self, tokens: Sequence[int]) -> str:
        """The text of `tokens` (used to find where a token starts in the original text)."""
        if not tokens:
            return ""
        return str(self._post("/detokenize", {"tokens": list(tokens)})["content"])

    def hidden(self, tokens: Sequence[int]) -> numpy.ndarray:
        """Final hidden state of every token of one forward pass (tokens x hidden)."""
        if len(tokens) > self.window:
            raise ValueError(f"{len(tokens)} tokens do not fit one pass of {self.window}")
        answer = self._post("/embedding", {"content": list(tokens)})
        return numpy.asarray(answer[0]["embedding"], dtype=numpy.float32)

    def surprise(self, tokens: Sequence[int], anchor: Sequence[int] = ()) -> numpy.ndarray:
        """NLL (nats) of every token of `tokens` given `anchor` and the tokens before it, in
        windows (module docstring). The first token has no left context without an anchor:
        its NLL is NaN."""
        _, matrix = self._load()
        # Keep at least a quarter of every pass for new tokens, however long the anchor.
        anchor = list(anchor)[: max(0, self.window - self.overlap - max(16, self.window // 4))]
        tokens = list(tokens)
        out = numpy.full(len(tokens), numpy.nan, dtype=numpy.float32)
        for context_start, first, end in windows(
            len(tokens), len(anchor), self.window, self.overlap
        ):
            sequence = anchor + tokens[context_start:end]
            states = self.hidden(sequence)
            # The state at position p predicts token p + 1.
            offset = len(anchor) + (first - context_start)
            predict_from = numpy.arange(offset - 1, offset - 1 + (end - first))
            usable = predict_from >= 0
            targets = numpy.asarray(tokens[first:end], dtype=numpy.int64)[usable]
            out[first:end][usable] = token_nll(states[predict_from[usable]], targets, matrix)
        return out

    def close(self) -> None:
        with self._lock:
            self._server = None  # xllamacpp stops the server when it is collected
