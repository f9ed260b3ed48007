import json
from pathlib import Path

import pytest

from agentracer.errors import TraceFormatError
from agentracer.formats import iter_file, load_file, load_one, write_jsonl
from tests.conftest import EXAMPLE


def test_example_trace_loads_as_a_who_and_when_record() -> None:
    trajectory = load_one(EXAMPLE)
    assert trajectory.id == "failed_run"
    assert trajectory.agents == ["Planner", "Time_Expert", "Verification_Expert"]
    assert trajectory.label is not None and (trajectory.label.agent, trajectory.label.step) == (
        "Time_Expert",
        1,
    )
    assert trajectory.source is not None and trajectory.source.format == "who-and-when"


def test_our_json_and_jsonl_round_trip(tmp_path: Path) -> None:
    trajectory = load_one(EXAMPLE)
    single = tmp_path / "one.json"
    single.write_text(trajectory.model_dump_json())
    assert load_one(single) == trajectory

    many = tmp_path / "many.jsonl"
    renamed = trajectory.model_copy(update={"id": "second"})
    assert write_jsonl([trajectory, renamed], many) == 2
    assert load_file(many) == [trajectory, renamed]
    assert load_one(many, index=1).id == "second"


def test_a_json_list_of_records_loads_each(tmp_path: Path) -> None:
    record = json.loads(EXAMPLE.read_text())
    path = tmp_path / "list.json"
    path.write_text(json.dumps([record, record]))
    assert len(load_file(path)) == 2


def test_multi_record_file_needs_an_index(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    write_jsonl([load_one(EXAMPLE)] * 3, path)
    with pytest.raises(
        TraceFormatError, match=r"holds 3 trajectories; pick one with --index \(0..2\)"
    ):
        load_one(path)
    with pytest.raises(TraceFormatError, match="--index 7 is out of range"):
        load_one(path, index=7)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("this is not json", r"not valid JSON \(line 1, column 1"),
        ('{"foo": 1, "bar": 2}', "no known trajectory format.*found keys: bar, foo"),
        ("[1, 2]", "no known trajectory format.*found a JSON int"),
        ("", "the file is empty"),
        ('{"history": [], "mistake_step": "0", "mistake_agent": "A"}', "zero steps"),
        (
            '{"history": [{"content": "x", "role": "A"}], "mistake_step": "3", "mistake_agent": "A"}',
            "mistake_step 3 is outside the history",
        ),
        ('{"id": "t", "steps": []}', "invalid trajectory: the trajectory has zero steps"),
    ],
)
def test_bad_files_give_one_line_errors_naming_the_file(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(TraceFormatError, match=message) as caught:
        load_file(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="no such file"):
        load_file(tmp_path / "absent.json")
    binary = tmp_path / "blob.json"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(TraceFormatError, match="not UTF-8"):
        load_file(binary)
    parquet = tmp_path / "broken.parquet"
    parquet.write_text("not parquet")
    with pytest.raises(TraceFormatError, match="not a readable parquet file"):
        load_file(parquet)


def test_one_bad_jsonl_line_is_reported_and_the_rest_still_load(tmp_path: Path) -> None:
    good = load_one(EXAMPLE).model_dump_json()
    path = tmp_path / "mixed.jsonl"
    path.write_text(f'{good}\n{{"nope": 1}}\n{good}\n')
    items = list(iter_file(path))
    assert [type(i).__name__ for i in items] == ["Trajectory", "TraceFormatError", "Trajectory"]
    assert "#line2" in str(items[1])
