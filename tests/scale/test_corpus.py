"""`attribute` over a corpus: streaming, bounded by the batch, resumable, in-process and on Ray."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.errors import AgenTracerError
from agentracer.scale import corpus
from agentracer.scale.corpus import CorpusJob, attribute_corpus, find_traces
from agentracer.tracers import TracerSettings

N = 12


@pytest.fixture
def traces(data_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "traces"
    (folder / "nested").mkdir(parents=True)
    files = sorted((data_dir / "who_and_when" / "Hand-Crafted").glob("*.json"))[:N]
    for i, path in enumerate(files):
        shutil.copy(path, (folder / "nested" if i % 2 else folder) / path.name)
    (folder / "broken.json").write_text("{not json")
    (folder / "notes.txt").write_text("not a trace")
    return folder


def _job() -> CorpusJob:
    return CorpusJob("random", TracerSettings(seed=0))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_find_traces_walks_directories_and_globs(traces: Path) -> None:
    assert len(find_traces(traces)) == N + 1  # the .txt is not a trace
    assert len(find_traces(f"{traces}/*.json")) == N // 2 + 1
    assert len(find_traces(f"{traces}/**/*.json")) == N + 1
    with pytest.raises(AgenTracerError, match="no such file"):
        find_traces(traces / "missing")


def test_jsonl_output_is_resumable_and_written_once(traces: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    first = attribute_corpus(traces, _job(), out, batch_size=5)
    assert first.written == N and first.resumed == 0 and len(first.unreadable) == 1
    rows = _jsonl(out)
    assert len({row["key"] for row in rows}) == N
    assert all(row["verdict"]["tracer"] == "random" for row in rows)
    # a kill mid-write leaves a torn last line: it is dropped and that trajectory redone
    text = out.read_text().splitlines()
    out.write_text("\n".join(text[:-1]) + "\n" + text[-1][:20])
    again = attribute_corpus(traces, _job(), out, batch_size=5)
    assert again.written == 1 and again.resumed == N - 1
    assert sorted(_jsonl(out), key=lambda r: r["key"]) == sorted(rows, key=lambda r: r["key"])


def test_parquet_output_is_a_directory_of_whole_parts(traces: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.parquet"
    report = attribute_corpus(traces, _job(), out, batch_size=5)
    assert report.written == N
    assert len(list(out.glob("part-*.parquet"))) == 3  # 5 + 5 + 2
    table = pq.read_table(out)
    assert table.num_rows == N and len(set(table.column("key").to_pylist())) == N
    assert set(table.column_names) >= {"key", "path", "id", "agent", "step", "verdict"}
    assert attribute_corpus(traces, _job(), out, batch_size=5).resumed == N
    assert pq.read_table(out).num_rows == N


def test_memory_is_bounded_by_the_batch(
    traces: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulled: list[int] = []
    original = corpus._todo

    def counting(*args: Any) -> Any:
        for n, item in enumerate(original(*args), start=1):
            pulled.append(n)
            yield item

    seen_when_written: list[int] = []
    monkeypatch.setattr(corpus, "_todo", counting)
    attribute_corpus(
        traces, _job(), tmp_path / "r.jsonl", batch_size=4,
        on_row=lambda _: seen_when_written.append(len(pulled)),
    )  # fmt: skip
    # no trajectory is read before the previous batch of 4 is written
    assert seen_when_written[:4] == [4] * 4 and seen_when_written[4:8] == [8] * 4


def test_ray_gives_the_same_rows_as_in_process(
    ray_cluster: Any, traces: Path, tmp_path: Path
) -> None:
    attribute_corpus(traces, _job(), tmp_path / "local.jsonl", batch_size=5)
    report = attribute_corpus(traces, _job(), tmp_path / "ray.jsonl", batch_size=3, ray=True)
    assert report.written == N and not report.failed

    def by_key(path: Path) -> dict[str, Any]:
        return {r["key"]: r for r in _jsonl(path)}

    assert by_key(tmp_path / "ray.jsonl") == by_key(tmp_path / "local.jsonl")


def test_cli_attribute_over_a_glob(traces: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.jsonl"
    args = ["attribute", f"{traces}/**/*.json", "--tracer", "random", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"{N} attributed, 0 resumed, 0 failed, 1 unreadable" in " ".join(result.output.split())
    assert len(_jsonl(out)) == N
    # issue 20 item 5: the warning names the file once
    broken = str(next(traces.rglob("broken.json")))
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {broken}: not valid JSON (line 1, column 2: "
                        "Expecting property name enclosed in double quotes)"]  # fmt: skip
    assert result.stderr.count(broken) == 1
    no_out = CliRunner().invoke(app, ["attribute", str(traces), "--tracer", "random"])
    assert no_out.exit_code == 2 and "--out" in no_out.output
