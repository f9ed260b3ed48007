"""Sentence-embedding features of each agent step (all-MiniLM-L6-v2, int8 ONNX, on CPU).

Every step's text (its first 128 word pieces), the task and the run's final agent step are
embedded once per run and cached on disk (`signal_cache`, keyed by the run's text, the model
files' sha256 and the settings). `embedding_features(trajectory)` gives `EMBEDDING_FEATURES`,
one row per agent step in the order of `features.step_features`: similarity to the task, to
the final answer and to later error reports, novelty against earlier steps, similarity to the
neighbouring steps and to the other agent steps, some of them also as z-scores within the run.
"""

from __future__ import annotations

from functools import lru_cache

import numpy

from agentracer.llm.sentences import MAX_TOKENS, SentenceEncoder
from agentracer.tracers.fast.signal_cache import SignalCache, signal_key
from agentracer.tracers.fast.surprise import _z
from agentracer.tracers.taxonomy import has_error
from agentracer.trajectory import StepKind, Trajectory

KIND = "minilm-v1"

EMBEDDING_FEATURES = (
    "emb_task_sim",
    "emb_task_sim_z",
    "emb_final_sim",
    "emb_final_sim_z",
    "emb_error_sim",
    "emb_novelty",
    "emb_novelty_z",
    "emb_prev_sim",
    "emb_next_sim",
    "emb_centrality",
    "emb_centrality_z",
)


@lru_cache(maxsize=1)
def _encoder() -> SentenceEncoder:
    return SentenceEncoder()


def run_embeddings(
    trajectory: Trajectory, cache: SignalCache | None = None
) -> dict[str, numpy.ndarray]:
    """`vectors`: one unit vector per step, then the task's (steps + 1 rows), from the cache
    when there."""
    cache = cache or SignalCache(KIND)
    key = signal_key(KIND, trajectory, SentenceEncoder.identity, {"max_tokens": MAX_TOKENS})
    found = cache.get(key)
    if found is not None and len(found.get("vectors", [])) == len(trajectory.steps) + 1:
        return found
    texts = [step.content for step in trajectory.steps] + [trajectory.question]
    arrays = {"vectors": _encoder().encode(texts)}
    cache.put(key, arrays)
    return arrays


def features_from_vectors(trajectory: Trajectory, vectors: numpy.ndarray) -> list[list[float]]:
    """`EMBEDDING_FEATURES` of every agent step, from the run's step and task vectors."""
    steps = trajectory.steps
    n = len(steps)
    step_vectors, task = vectors[:n], vectors[n]
    similarity = step_vectors @ step_vectors.T
    agent = [s.index for s in steps if s.kind is StepKind.AGENT]
    final = agent[-1] if agent else n - 1
    errors = [s.index for s in steps if has_error(s.content)]
    task_sim = [float(step_vectors[i] @ task) for i in agent]
    final_sim = [float(similarity[i, final]) for i in agent]
    novelty = [1.0 - float(similarity[i, :i].max()) if i > 0 else 1.0 for i in agent]
    centrality = [
        float(numpy.mean([similarity[i, j] for j in agent if j != i])) if len(agent) > 1 else 0.0
        for i in agent
    ]
    columns = (_z(task_sim), _z(final_sim), _z(novelty), _z(centrality))
    rows = []
    for k, i in enumerate(agent):
        later_errors = [j for j in errors if j > i]
        rows.append(
            [
                task_sim[k],
                columns[0][k],
                final_sim[k],
                columns[1][k],
                max((float(similarity[i, j]) for j in later_errors), default=0.0),
                novelty[k],
                columns[2][k],
                float(similarity[i, i - 1]) if i > 0 else 0.0,
                float(similarity[i, i + 1]) if i + 1 < n else 0.0,
                centrality[k],
                columns[3][k],
            ]
        )
    return rows


def embedding_features(
    trajectory: Trajectory, cache: SignalCache | None = None
) -> list[list[float]]:
    """`EMBEDDING_FEATURES` of every agent step of `trajectory`, rows in the order of
    `features.step_features` (embedded once per run and cached on disk)."""
    return features_from_vectors(trajectory, run_embeddings(trajectory, cache)["vectors"])
