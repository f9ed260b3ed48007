"""Find and read the labelled benchmarks: one catalogue of every labelled source.

- `who-and-when` (subsets `hand-crafted`: Magentic-One, `algorithm-generated`: CaptainAgent);
- `tracertraj` (the TracerTraj sample);
- `agentrx-magentic`: AgentRx's re-annotation of Who&When's hand-crafted logs (several
  failures per run, one root cause; the same system as `hand-crafted`, see `system_of`);
- `tau-retail`: AgentRx's tau-bench retail runs (29 labelled failures, 73 successes kept
  unlabelled for forecasting's false alarms);
- `mast`: MAD, traces of several frameworks labelled with MAST failure modes and no agent or
  step: listed, and its readable traces load (modes in `metadata["mast_failure_modes"]`), but
  step attribution cannot be scored or trained on it (`require_step_labels` says so);
- a path: a labelled dataset of our own (`annotate` output, any readable format).

Where the data comes from, in order: an explicit path (`--data`), else the directory in
`AGENTRACER_DATA_DIR`, else the HuggingFace Hub (Who&When only, `Kevin355/Who_and_When`).
An explicit path or variable that holds no data is an error, not a reason to go online.
Accepted local layouts, under the chosen directory:

- Who&When: `who_and_when/Hand-Crafted/*.json` (and `Algorithm-Generated/`), or the same
  folders under `Who&When/` or directly in the directory, or `Hand-Crafted.parquet` files as
  in the HuggingFace snapshot;
- TracerTraj: a `.parquet` file, or `tracertraj/*.parquet`, or `*.parquet` in the directory;
- AgentRx: `agentrx/data/` (or `data/`, or the directory itself) holding `ground_truth/` and the
  logs (`magentic_dataset/`, `tau_retail/`), as in the microsoft/AgentRx repository.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentracer.errors import DatasetNotFoundError, TraceFormatError
from agentracer.formats import agentrx, mast, tau_bench, tracertraj, who_and_when
from agentracer.formats.files import iter_file
from agentracer.formats.registry import Probe
from agentracer.formats.text import Sanitiser, json_error_message
from agentracer.trajectory import Provenance, Trajectory

ENV_VAR = "AGENTRACER_DATA_DIR"
# Who&When's labels were made by human annotators (both subsets).
WHO_AND_WHEN_PROVENANCE = Provenance(method="human-annotation", source="who-and-when")
HF_REPO = "Kevin355/Who_and_When"
WHO_AND_WHEN = "who-and-when"
TRACERTRAJ = "tracertraj"
AGENTRX_MAGENTIC = agentrx.MAGENTIC
TAU_RETAIL = agentrx.TAU_RETAIL
MAST = "mast"
WHO_AND_WHEN_SUBSETS = ("hand-crafted", "algorithm-generated")
BENCH_SUBSETS = {
    WHO_AND_WHEN: WHO_AND_WHEN_SUBSETS,
    TRACERTRAJ: (TRACERTRAJ,),
    AGENTRX_MAGENTIC: (AGENTRX_MAGENTIC,),
    TAU_RETAIL: (TAU_RETAIL,),
    MAST: (MAST,),
}
# Sources whose labels say what went wrong but not who or where: no step metric applies.
STEPLESS = {
    MAST: "its labels are MAST failure modes (what went wrong), with no agent and no step",
}
# The multi-agent system behind each subset, for leave-one-system-out: never train on one
# subset of a system and test on another. AgentRx's Magentic-One runs ARE Who&When's
# hand-crafted logs (same files, annotated again), so both are `magentic-one`.
SYSTEMS = {
    "hand-crafted": "magentic-one",
    AGENTRX_MAGENTIC: "magentic-one",
    "algorithm-generated": "captain-agent",
    TRACERTRAJ: "tracertraj",
    TAU_RETAIL: "tau-bench-retail",
    MAST: "mast",
}
_FOLDERS = {"hand-crafted": "Hand-Crafted", "algorithm-generated": "Algorithm-Generated"}

Entry = Trajectory | TraceFormatError


@dataclass
class Benchmark:
    """A loaded benchmark: where it came from and, per subset, its trajectories or load errors."""

    name: str
    location: str
    subsets: dict[str, list[Entry]] = field(default_factory=dict)

    def trajectories(self) -> Iterator[tuple[str, Trajectory]]:
        for subset, entries in self.subsets.items():
            for entry in entries:
                if isinstance(entry, Trajectory):
                    yield subset, entry

    def problems(self) -> list[TraceFormatError]:
        return [
            e for entries in self.subsets.values() for e in entries if not isinstance(e, Trajectory)
        ]


def load_benchmark(
    name: str, subsets: list[str] | None = None, data: str | Path | None = None
) -> Benchmark:
    """Load `name` (`who-and-when`, `tracertraj`, or a path to a labelled dataset of our own),
    restricted to `subsets` when given."""
    if name not in BENCH_SUBSETS:
        if Path(name).expanduser().exists():
            return load_dataset_path(Path(name).expanduser())
        known = ", ".join(BENCH_SUBSETS)
        raise DatasetNotFoundError(
            f"unknown benchmark {name!r}; known: {known}, or a path to a dataset file or directory"
        )
    wanted = list(subsets or BENCH_SUBSETS[name])
    unknown = [s for s in wanted if s not in BENCH_SUBSETS[name]]
    if unknown:
        raise DatasetNotFoundError(
            f"unknown subset {unknown[0]!r} of {name}; known: {', '.join(BENCH_SUBSETS[name])}"
        )
    looked: list[str] = []
    local = _local_root(data)
    if local is not None:
        label, root = local
        found = _LOCAL_READERS[name](root, wanted)
        if found is not None:
            return found
        # An explicit location that holds nothing is the user's mistake: say so, don't go online.
        raise DatasetNotFoundError(_not_found(name, [f"{label} {root} (no {name} data there)"]))
    looked.append(f"--data (not given), ${ENV_VAR} (not set)")
    if name == WHO_AND_WHEN:
        try:
            return _who_and_when_from_hub(wanted)
        except DatasetNotFoundError as error:
            looked.append(error.message)
    else:
        shown = "TracerTraj" if name == TRACERTRAJ else name
        looked.append(f"the HuggingFace Hub ({shown} is not published there)")
    raise DatasetNotFoundError(_not_found(name, looked))


def system_of(subset: str, bench: str | None = None) -> str:
    """The system a subset's runs come from, for leave-one-system-out: `magentic-one` for both
    Who&When hand-crafted and AgentRx's copy of it. A labelled dataset given by path (subset
    `dataset`, e.g. `annotate` output) is a system of its own, named after its folder or file
    when `bench` (the path) is given."""
    if subset == DATASET_SUBSET and bench is not None:
        return f"dataset:{Path(bench).name}"
    return SYSTEMS.get(subset, subset)


def runs_by_system(
    names: list[str], data: str | Path | None = None
) -> dict[str, list[tuple[str, Trajectory]]]:
    """The labelled runs of the named sources (benchmark names or dataset paths) as
    (subset, trajectory) pairs, grouped by `system_of`: what leave-one-system-out trains and
    tests on. Runs whose gold agent cannot be blamed (a simulated user) are left out; both
    `hand-crafted` and `agentrx-magentic` land in `magentic-one`."""
    grouped: dict[str, list[tuple[str, Trajectory]]] = {}
    for name in names:
        require_step_labels(name, use="be split by system for step attribution")
        benchmark = load_benchmark(name, None, data)
        for subset, trajectory in benchmark.trajectories():
            if trajectory.label is None or who_and_when.FLAG_GOLD_NOT_BLAMABLE in trajectory.flags:
                continue
            grouped.setdefault(system_of(subset, name), []).append((subset, trajectory))
    return grouped


def require_step_labels(name: str, use: str = "score step attribution") -> None:
    """Refuse, in one line, to `use` a source whose labels have no agent or step (MAST)."""
    if name in STEPLESS:
        raise DatasetNotFoundError(
            f"{name} cannot {use}: {STEPLESS[name]} (its readable traces load, e.g. for "
            f"`agentracer show`); sources with steps: {', '.join(_stepped())}, or a dataset path"
        )


def _stepped() -> list[str]:
    return [name for name in BENCH_SUBSETS if name not in STEPLESS]


def _not_found(name: str, looked: list[str]) -> str:
    return (
        f"{name} data not found; looked in: {'; '.join(looked)}. "
        f"Pass --data DIR or set {ENV_VAR} to a directory holding it."
    )


def _local_root(data: str | Path | None) -> tuple[str, Path] | None:
    if data is not None:
        return "--data", Path(data).expanduser()
    if os.environ.get(ENV_VAR):
        return f"${ENV_VAR}", Path(os.environ[ENV_VAR]).expanduser()
    return None


def _stem_order(path: Path) -> tuple[int, str]:
    return (int(path.stem), "") if path.stem.isdigit() else (1 << 30, path.stem)


def _who_and_when_local(root: Path, wanted: list[str]) -> Benchmark | None:
    for base in (root / "who_and_when", root / "Who&When", root):
        found: dict[str, list[Entry]] = {}
        for subset in wanted:
            folder, parquet = base / _FOLDERS[subset], base / f"{_FOLDERS[subset]}.parquet"
            if folder.is_dir() and any(folder.glob("*.json")):
                files = sorted(folder.glob("*.json"), key=_stem_order)
                found[subset] = [_read_record_file(f, subset) for f in files]
            elif parquet.is_file():
                found[subset] = list(
                    _rows_as_entries(tracertraj.read_rows(parquet), subset, parquet)
                )
        if len(found) == len(wanted):
            return Benchmark(WHO_AND_WHEN, str(base), found)
    return None


def _read_record_file(path: Path, subset: str) -> Entry:
    """One Who&When JSON file; any problem (even an unreadable file) becomes an entry, not a raise."""
    try:
        entries = list(iter_file(path))
    except TraceFormatError as error:
        return error
    if len(entries) != 1:
        return TraceFormatError(f"expected one record, found {len(entries)}", path=path)
    entry = entries[0]
    if isinstance(entry, Trajectory):
        entry.id = f"{subset}/{path.stem}"
        assert entry.source is not None
        entry.source.subset = subset
        if entry.label is not None:
            entry.label.provenance = WHO_AND_WHEN_PROVENANCE.model_copy()
    return entry


def _rows_as_entries(
    rows: list[dict[str, Any]], subset: str, location: Path | str
) -> Iterator[Entry]:
    for position, row in enumerate(rows):
        try:
            if isinstance(row.get("history"), str):  # some exports store the history as JSON text
                row = {**row, "history": _json_history(row["history"], location, position)}
            yield who_and_when.parse_record(
                row,
                trajectory_id=f"{subset}/{position + 1}",
                subset=subset,
                path=str(location),
                record_key=str(position),
                provenance=WHO_AND_WHEN_PROVENANCE.model_copy(),
            )
        except TraceFormatError as error:
            yield error


def _json_history(text: str, location: Path | str, position: int) -> Any:
    try:
        return Sanitiser().value(json.loads(text), text)
    except json.JSONDecodeError as error:
        raise TraceFormatError(
            f"history is not valid JSON ({error.msg})", path=f"{location}#{position}"
        ) from None
    except (ValueError, RecursionError) as error:
        raise TraceFormatError(
            f"history: {json_error_message(error)}", path=f"{location}#{position}"
        ) from None


def _tracertraj_local(root: Path, wanted: list[str]) -> Benchmark | None:
    if root.is_file() and root.suffix == ".parquet":
        files = [root]
    else:
        files = sorted((root / "tracertraj").glob("*.parquet")) or sorted(root.glob("*.parquet"))
    if not files:
        return None
    entries: list[Entry] = []
    for file in files:
        entries.extend(tracertraj.iter_parquet(file))
    return Benchmark(TRACERTRAJ, str(files[0].parent), {TRACERTRAJ: entries})


def _agentrx_data(root: Path) -> Path | None:
    """AgentRx's `data/` folder under `root`: the one holding `ground_truth/`."""
    for base in (root / "agentrx" / "data", root / "data", root):
        if (base / "ground_truth").is_dir():
            return base
    return None


MAGENTIC_GROUND_TRUTH = "ground_truth/magentic_one_ground_truth.json"
TAU_GROUND_TRUTH = "ground_truth/tau_ground_truth.json"


def _ground_truth(data: Path, name: str) -> list[Entry]:
    path = data / name
    try:
        records = Probe(path).records()
    except TraceFormatError as error:
        return [error]
    return list(agentrx.read_ground_truth(records, data))


def _agentrx_magentic_local(root: Path, wanted: list[str]) -> Benchmark | None:
    data = _agentrx_data(root)
    if data is None or not (data / MAGENTIC_GROUND_TRUTH).is_file():
        return None
    return Benchmark(
        AGENTRX_MAGENTIC, str(data), {AGENTRX_MAGENTIC: _ground_truth(data, MAGENTIC_GROUND_TRUTH)}
    )


def _tau_retail_local(root: Path, wanted: list[str]) -> Benchmark | None:
    """The labelled failures, then every other run (successes, unlabelled failures) unlabelled:
    eval scores the labelled ones, forecasting counts false alarms on the successes."""
    data = _agentrx_data(root)
    if data is None or not (data / TAU_GROUND_TRUTH).is_file():
        return None
    entries = _ground_truth(data, TAU_GROUND_TRUTH)
    labelled = {e.id for e in entries if isinstance(e, Trajectory)}
    for task_id, (path, result) in agentrx.tau_results(data).items():
        run_id = f"{TAU_RETAIL}/{task_id}"
        if run_id in labelled:
            continue
        try:
            trajectory = tau_bench.parse_result(
                result, trajectory_id=run_id, path=path, record_key=task_id
            )
        except TraceFormatError as error:
            entries.append(error)
            continue
        assert trajectory.source is not None
        trajectory.source.subset = TAU_RETAIL
        entries.append(trajectory)
    return Benchmark(TAU_RETAIL, str(data), {TAU_RETAIL: entries})


MAD_FILE = "MAD_human_labelled_dataset.json"


def _mast_local(root: Path, wanted: list[str]) -> Benchmark | None:
    """MAD's human-labelled records: the traces we can read, and a refusal naming the
    framework for each we cannot."""
    for base in (root / "mast", root):
        path = base / MAD_FILE
        if path.is_file():
            probe = Probe(path)
            try:
                entries: list[Entry] = list(mast.MadFormat().parse(probe))
            except TraceFormatError as error:
                entries = [error]
            for entry in entries:
                if isinstance(entry, Trajectory) and entry.source is not None:
                    entry.source.subset = MAST
            return Benchmark(MAST, str(base), {MAST: entries})
    return None


_LOCAL_READERS: dict[str, Callable[[Path, list[str]], Benchmark | None]] = {
    WHO_AND_WHEN: _who_and_when_local,
    TRACERTRAJ: _tracertraj_local,
    AGENTRX_MAGENTIC: _agentrx_magentic_local,
    TAU_RETAIL: _tau_retail_local,
    MAST: _mast_local,
}


DATASET_SUBSET = "dataset"


def load_dataset_path(path: Path) -> Benchmark:
    """A labelled dataset in any supported format: one file, or a directory holding JSONL
    files (else parquet, else JSON; `annotate` writes the same records as JSONL and parquet,
    so only one kind is read)."""
    if path.is_file():
        files = [path]
    else:
        files = []
        for pattern in ("*.jsonl", "*.parquet", "*.json"):
            files = sorted(path.glob(pattern), key=_stem_order)
            if files:
                break
    if not files:
        raise DatasetNotFoundError(f"no .jsonl, .parquet or .json files in {path}")
    entries: list[Entry] = []
    for file in files:
        try:
            entries.extend(iter_file(file))
        except TraceFormatError as error:
            entries.append(error)
    return Benchmark(str(path), str(path), {DATASET_SUBSET: entries})


def _who_and_when_from_hub(wanted: list[str]) -> Benchmark:
    """Read Who&When from the Hub with `datasets`; a failure says why in one line."""
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a core dependency
        raise DatasetNotFoundError(
            f"the HuggingFace Hub ({HF_REPO}): the `datasets` package is not installed"
        ) from None
    found: dict[str, list[Entry]] = {}
    for subset in wanted:
        try:
            rows = datasets.load_dataset(HF_REPO, _FOLDERS[subset], split="train")
        except Exception as error:  # datasets raises many types for "unreachable"
            reason = " ".join(str(error).split())[:160]
            raise DatasetNotFoundError(f"the HuggingFace Hub {HF_REPO} ({reason})") from None
        found[subset] = list(_rows_as_entries(list(rows), subset, f"hf://{HF_REPO}"))
    return Benchmark(WHO_AND_WHEN, f"hf://datasets/{HF_REPO}", found)
