"""Language-model surprise of each step: how unexpected its text is, given the task and the log
before it, to a small language model (SmolLM2-135M, embedded, on CPU).

The log is rendered as `Task: ...` then `agent: content` blocks; every step's first
`step_tokens` content tokens are scored (their negative log-likelihood, in nats) and only those
tokens stand in the context of later steps, so a run costs at most about
`steps x (step_tokens + 6)` tokens of prompt processing whatever its length (a 5,000-token run
of 20 steps: about 1,100 tokens). Raw token surprises are cached on disk per run
(`signal_cache`), keyed by the run's text, the model file's sha256 and these settings.

`surprise_features(trajectory)` turns them into `SURPRISE_FEATURES`, one row per agent step in
the order of `features.step_features`: absolute statistics (mean, max, top-5 mean, opening),
the same normalised within the run (z-scores, rank), jumps against the previous step and the
agent's own previous step, and the surprise of what follows the step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy

from agentracer.llm.logprobs import SurpriseModel
from agentracer.llm.models import SMOLLM2_135M, local_model_file, sha256_of
from agentracer.tracers.fast.signal_cache import SignalCache, signal_key
from agentracer.trajectory import StepKind, Trajectory

KIND = "lm-surprise-v1"
TOP_K = 5
OPENING = 8  # tokens whose mean is the step's "opening" surprise
EASY_NATS = 0.5  # a token the model all but predicted
HARD_NATS = 6.0  # a token the model gave under 0.25% probability
FOLLOWING = 2  # steps after this one whose surprise is "what follows"

SURPRISE_FEATURES = (
    "lm_mean",
    "lm_max",
    "lm_top5",
    "lm_opening",
    "lm_easy_share",
    "lm_hard_share",
    "lm_mean_z",
    "lm_top5_z",
    "lm_max_z",
    "lm_mean_rank",
    "lm_mean_rel",
    "lm_jump_prev",
    "lm_jump_own",
    "lm_next_mean",
    "lm_next_z",
    "lm_after_minus_before",
)


@dataclass(frozen=True)
class SurpriseSettings:
    """What the surprise of a run depends on besides its text (all part of the cache key).

    `model`: an embedded model name or a `.gguf` path; `step_tokens`: content tokens scored at
    the head of each step; `task_tokens`: tokens of the task kept at the start of every window;
    `window`/`overlap`: tokens per forward pass and tokens of earlier log repeated in the next.
    """

    model: str = SMOLLM2_135M.name
    step_tokens: int = 32
    task_tokens: int = 96
    window: int = 1024
    overlap: int = 128


@lru_cache(maxsize=2)
def _model(path: str, window: int, overlap: int) -> SurpriseModel:
    return SurpriseModel(Path(path), window=window, overlap=overlap)


@lru_cache(maxsize=8)
def _model_sha(path: str) -> str:
    """The model file's sha256: the marker `pull` writes after verifying it, else hashed."""
    marker = Path(path).with_suffix(".sha256")
    if marker.is_file():
        return marker.read_text().strip()
    return sha256_of(Path(path))


def _render(trajectory: Trajectory, model: SurpriseModel, settings: SurpriseSettings):
    """The anchor's tokens, and per step its header tokens and scored content tokens."""
    anchor = model.tokenize(f"Task: {trajectory.question.strip()[:4000]}\n")
    anchor = anchor[: settings.task_tokens]
    blocks: list[tuple[list[int], list[int]]] = []
    # A step's head in characters: generous for `step_tokens` (rarely under 2 chars a token).
    chars = settings.step_tokens * 12
    for step in trajectory.steps:
        header = model.tokenize(f"\n{step.agent}:")
        content = model.tokenize(" " + step.content.strip()[:chars])[: settings.step_tokens]
        blocks.append((header, content))
    return anchor, blocks


def compute_surprise(
    trajectory: Trajectory, settings: SurpriseSettings
) -> dict[str, numpy.ndarray]:
    """Score the run (no cache): `nll` (the scored tokens of all steps, concatenated),
    `offsets` (step i's tokens are nll[offsets[i]:offsets[i+1]]) and `peak_char` (the
    character of each step's content where its most surprising token starts, -1 if none)."""
    path = str(local_model_file(settings.model))
    model = _model(path, settings.window, settings.overlap)
    anchor, blocks = _render(trajectory, model, settings)
    tokens: list[int] = []
    spans: list[tuple[int, int]] = []
    for header, content in blocks:
        tokens.extend(header)
        spans.append((len(tokens), len(tokens) + len(content)))
        tokens.extend(content)
    surprise = model.surprise(tokens, anchor)
    pieces = [surprise[a:b] for a, b in spans]
    offsets = numpy.cumsum([0, *(len(p) for p in pieces)]).astype(numpy.int64)
    peaks = []
    for (a, _), piece, step in zip(spans, pieces, trajectory.steps, strict=True):
        if not len(piece) or numpy.isnan(piece).all():
            peaks.append(-1)
            continue
        top = int(numpy.nanargmax(piece))
        before = model.detokenize(tokens[a : a + top])
        # The content was tokenized after a space and a strip: map back into the original text.
        stripped_from = len(step.content) - len(step.content.lstrip())
        peaks.append(max(0, len(before) - 1) + stripped_from)
    nll = numpy.concatenate(pieces) if pieces else numpy.zeros(0, numpy.float32)
    return {
        "nll": nll.astype(numpy.float32),
        "offsets": offsets,
        "peak_char": numpy.asarray(peaks, dtype=numpy.int64),
    }


def run_surprise(
    trajectory: Trajectory,
    settings: SurpriseSettings | None = None,
    cache: SignalCache | None = None,
) -> dict[str, numpy.ndarray]:
    """The run's raw surprise arrays (see `compute_surprise`), from the cache when there."""
    settings = settings or SurpriseSettings()
    cache = cache or SignalCache(KIND)
    path = str(local_model_file(settings.model))
    key = signal_key(KIND, trajectory, _model_sha(path), asdict(settings))
    found = cache.get(key)
    if found is not None and len(found.get("offsets", [])) == len(trajectory.steps) + 1:
        return found
    arrays = compute_surprise(trajectory, settings)
    cache.put(key, arrays)
    return arrays


def _z(values: list[float]) -> list[float]:
    if len(values) < 2:
        return [0.0] * len(values)
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return [(v - mean) / spread if spread > 1e-9 else 0.0 for v in values]


def _relative_rank(values: list[float]) -> list[float]:
    """0 for the least, 1 for the most surprising (ties share the lower rank)."""
    if len(values) < 2:
        return [0.0] * len(values)
    ordered = sorted(values)
    return [ordered.index(v) / (len(values) - 1) for v in values]


def step_statistics(tokens: numpy.ndarray) -> tuple[float, float, float, float, float, float]:
    """mean, max, top-5 mean, opening mean, easy share and hard share of one step's token NLLs
    (all zero for a step with no scored token)."""
    values = tokens[~numpy.isnan(tokens)]
    if not len(values):
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    top = numpy.sort(values)[-TOP_K:]
    return (
        float(values.mean()),
        float(values.max()),
        float(top.mean()),
        float(values[:OPENING].mean()),
        float((values < EASY_NATS).mean()),
        float((values > HARD_NATS).mean()),
    )


def features_from_arrays(
    trajectory: Trajectory, arrays: dict[str, numpy.ndarray]
) -> list[list[float]]:
    """`SURPRISE_FEATURES` of every agent step, from a run's raw surprise arrays."""
    nll, offsets = arrays["nll"], arrays["offsets"]
    stats = [
        step_statistics(nll[offsets[i] : offsets[i + 1]]) for i in range(len(trajectory.steps))
    ]
    means = [s[0] for s in stats]
    agent_steps = [s for s in trajectory.steps if s.kind is StepKind.AGENT]
    chosen = [s.index for s in agent_steps]
    run_mean = [means[i] for i in chosen]
    mean_z = _z(run_mean)
    top_z = _z([stats[i][2] for i in chosen])
    max_z = _z([stats[i][1] for i in chosen])
    rank = _relative_rank(run_mean)
    median = float(numpy.median(run_mean)) if run_mean else 0.0

    def following(i: int) -> float:
        later = nll[offsets[i + 1] : offsets[min(len(means), i + 1 + FOLLOWING)]]
        later = later[~numpy.isnan(later)]
        return float(later.mean()) if len(later) else means[i]

    next_means = [following(i) for i in chosen]
    next_z = _z(next_means)
    rows: list[list[float]] = []
    last_own: dict[str, float] = {}
    for k, step in enumerate(agent_steps):
        i = step.index
        before = means[max(0, i - 3) : i]
        after = means[i + 1 : i + 4]
        shift = (sum(after) / len(after) if after else means[i]) - (
            sum(before) / len(before) if before else means[i]
        )
        rows.append(
            [
                *stats[i],
                mean_z[k],
                top_z[k],
                max_z[k],
                rank[k],
                means[i] / median if median > 0 else 0.0,
                means[i] - means[i - 1] if i > 0 else 0.0,
                means[i] - last_own.get(step.agent, means[i]),
                next_means[k],
                next_z[k],
                shift,
            ]
        )
        last_own[step.agent] = means[i]
    return rows


def surprise_features(
    trajectory: Trajectory,
    settings: SurpriseSettings | None = None,
    cache: SignalCache | None = None,
) -> list[list[float]]:
    """`SURPRISE_FEATURES` of every agent step of `trajectory`, rows in the order of
    `features.step_features` (computed once per run and cached on disk)."""
    return features_from_arrays(trajectory, run_surprise(trajectory, settings, cache))
