"""Sentence-embedding features and the real all-MiniLM-L6-v2 encoder (int8 ONNX)."""

from pathlib import Path

import numpy
import pytest

from agentracer.tracers.fast.embeddings import (
    EMBEDDING_FEATURES,
    embedding_features,
    features_from_vectors,
)
from agentracer.tracers.fast.features import step_features
from agentracer.tracers.fast.signal_cache import SignalCache
from agentracer.trajectory import Step, StepKind, Trajectory

pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")

RUN = Trajectory(
    id="e",
    question="q",
    steps=[
        Step(index=0, agent="A", speaker="A", content="plan"),
        Step(index=1, agent="tool", speaker="tool", kind=StepKind.TOOL, content="Error: failed"),
        Step(index=2, agent="B", speaker="B", content="fix"),
    ],
    agents=["A", "B"],
)


def _f(row: list[float], name: str) -> float:
    return row[EMBEDDING_FEATURES.index(name)]


def test_features_from_vectors_exact() -> None:
    e = numpy.eye(3, dtype=numpy.float32)
    # step 0 = e0, step 1 (tool error) = e1, step 2 = (e0 + e1)/sqrt2, task = e0
    vectors = numpy.stack([e[0], e[1], (e[0] + e[1]) / numpy.sqrt(2), e[0]])
    rows = features_from_vectors(RUN, vectors)
    assert len(rows) == 2 and all(len(r) == len(EMBEDDING_FEATURES) for r in rows)
    half = 1 / numpy.sqrt(2)
    assert [_f(r, "emb_task_sim") for r in rows] == pytest.approx([1.0, half])
    assert [_f(r, "emb_final_sim") for r in rows] == pytest.approx([half, 1.0])
    assert [_f(r, "emb_error_sim") for r in rows] == pytest.approx([0.0, 0.0])  # no later error
    assert [_f(r, "emb_novelty") for r in rows] == pytest.approx([1.0, 1 - half])
    assert [_f(r, "emb_prev_sim") for r in rows] == pytest.approx([0.0, half])
    assert [_f(r, "emb_next_sim") for r in rows] == pytest.approx([0.0, 0.0])
    assert [_f(r, "emb_centrality") for r in rows] == pytest.approx([half, half])
    assert [_f(r, "emb_task_sim_z") for r in rows] == pytest.approx([1.0, -1.0])


def test_real_embeddings_rank_meaning_and_align_with_step_features(
    tmp_path: Path, who_and_when
) -> None:
    from agentracer.llm.sentences import SentenceEncoder

    vectors = SentenceEncoder(threads=1).encode(
        ["The cat sits on the mat.", "A cat is sitting on a mat.", "Stock prices fell.", " "]
    )
    assert vectors[0] @ vectors[1] > 0.8 > 0.2 > vectors[0] @ vectors[2]
    assert numpy.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-5)
    assert not vectors[3].any()  # an empty text is the zero vector, not noise
    run = next(t for s, t in who_and_when.trajectories() if s == "algorithm-generated")
    cache = SignalCache("emb", tmp_path)
    rows = embedding_features(run, cache)
    assert len(rows) == len(step_features(run)[0])
    assert embedding_features(run, cache) == rows
    assert len(list(tmp_path.rglob("*.npz"))) == 1
