import json
from pathlib import Path

import datasets
import pytest

from agentracer.errors import DatasetNotFoundError
from agentracer.formats import Benchmark, load_benchmark, to_record
from agentracer.formats import benchmarks as benchmarks_module


def test_env_var_is_used_when_no_path_is_given(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTRACER_DATA_DIR", str(data_dir))
    bench = load_benchmark("who-and-when", ["algorithm-generated"])
    assert (
        list(bench.subsets) == ["algorithm-generated"]
        and len(bench.subsets["algorithm-generated"]) == 126
    )


def test_the_folder_itself_or_a_parquet_file_are_accepted(data_dir: Path) -> None:
    assert (
        len(
            load_benchmark("who-and-when", ["hand-crafted"], data_dir / "who_and_when").subsets[
                "hand-crafted"
            ]
        )
        == 58
    )
    parquet = data_dir / "tracertraj" / "tracertraj-code-test.parquet"
    assert len(load_benchmark("tracertraj", data=parquet).subsets["tracertraj"]) == 127


def test_explicit_empty_location_is_an_error_without_going_online(tmp_path: Path) -> None:
    with pytest.raises(
        DatasetNotFoundError, match=f"looked in: --data {tmp_path} \\(no who-and-when data there\\)"
    ):
        load_benchmark("who-and-when", data=tmp_path)


def test_missing_everywhere_says_where_it_looked() -> None:
    with pytest.raises(DatasetNotFoundError) as caught:
        load_benchmark("who-and-when")
    message = str(caught.value)
    assert "--data (not given), $AGENTRACER_DATA_DIR (not set)" in message
    assert "the HuggingFace Hub Kevin355/Who_and_When" in message
    assert "\n" not in message
    with pytest.raises(DatasetNotFoundError, match="TracerTraj is not published there"):
        load_benchmark("tracertraj")


def test_unknown_benchmark_and_subset() -> None:
    with pytest.raises(DatasetNotFoundError, match="unknown benchmark 'gaia'"):
        load_benchmark("gaia")
    with pytest.raises(DatasetNotFoundError, match="unknown subset 'easy'"):
        load_benchmark("who-and-when", ["easy"])


def test_a_bad_record_file_is_reported_and_the_rest_load(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "Hand-Crafted"
    folder.mkdir()
    for stem in ("1", "2", "3"):
        (folder / f"{stem}.json").write_text(
            (data_dir / "who_and_when" / "Hand-Crafted" / f"{stem}.json").read_text()
        )
    (folder / "2.json").write_text("{ truncated")
    bench = load_benchmark("who-and-when", ["hand-crafted"], tmp_path)
    assert [t.id for _, t in bench.trajectories()] == ["hand-crafted/1", "hand-crafted/3"]
    [problem] = bench.problems()
    assert problem.path is not None and problem.path.endswith("2.json")


def _hub_style_rows(bench: Benchmark, subset: str) -> list[dict]:
    """Records as the Hub's parquet holds them: one struct type for every history entry."""
    rows = []
    for _, trajectory in bench.trajectories():
        if trajectory.source and trajectory.source.subset == subset:
            record = to_record(trajectory)
            record["history"] = [
                {"content": e["content"], "role": e["role"], "name": e.get("name")}
                for e in record["history"]
            ]
            rows.append(
                {
                    k: record[k]
                    for k in (
                        "question",
                        "ground_truth",
                        "history",
                        "mistake_agent",
                        "mistake_step",
                        "mistake_reason",
                    )
                }
            )
    return rows


def test_hub_snapshot_parquet_layout_loads(who_and_when: Benchmark, tmp_path: Path) -> None:
    for subset, name in (
        ("hand-crafted", "Hand-Crafted"),
        ("algorithm-generated", "Algorithm-Generated"),
    ):
        datasets.Dataset.from_list(_hub_style_rows(who_and_when, subset)).to_parquet(
            tmp_path / f"{name}.parquet"
        )
    bench = load_benchmark("who-and-when", data=tmp_path)
    loaded = {t.id: t for _, t in bench.trajectories()}
    assert len(loaded) == 184 and bench.problems() == []
    first = loaded["hand-crafted/1"]
    assert first.agents == ["Orchestrator", "WebSurfer"] and first.label and first.label.step == 12


def test_hub_reader_converts_dataset_rows(
    who_and_when: Benchmark, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fake_load_dataset(repo: str, name: str, split: str) -> list[dict]:
        """Stands in for the network only: rows shaped as `datasets` yields them."""
        calls.append((repo, name, split))
        subset = {"Hand-Crafted": "hand-crafted", "Algorithm-Generated": "algorithm-generated"}[
            name
        ]
        rows = list(datasets.Dataset.from_list(_hub_style_rows(who_and_when, subset)))
        rows[0]["history"] = json.dumps(
            rows[0]["history"]
        )  # some exports keep history as JSON text
        return rows

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    bench = load_benchmark("who-and-when")
    assert calls == [
        ("Kevin355/Who_and_When", "Hand-Crafted", "train"),
        ("Kevin355/Who_and_When", "Algorithm-Generated", "train"),
    ]
    assert bench.location == "hf://datasets/Kevin355/Who_and_When"
    assert {k: len(v) for k, v in bench.subsets.items()} == {
        "hand-crafted": 58,
        "algorithm-generated": 126,
    }
    assert bench.problems() == []
    assert benchmarks_module.HF_REPO == "Kevin355/Who_and_When"
