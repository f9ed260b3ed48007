import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.tracers import tracer_specs
from tests.conftest import EXAMPLE
from tests.llm.loopback import Reply, completion, error

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


def test_show_prints_agents_steps_and_gold() -> None:
    result = _run("show", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert "Planner, Time_Expert, Verification_Expert" in result.stdout
    assert "Computer_terminal (tool)" in result.stdout
    assert "◀ gold" in result.stdout and "gold label: Time_Expert at step 1" in result.stdout


def test_attribute_prints_the_verdict_and_the_blamed_step() -> None:
    result = _run("attribute", str(EXAMPLE), "--tracer", "last-agent-step")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # a model-free tracer says nothing about models
    assert "agent: Planner" in result.stdout and "step:  5" in result.stdout
    assert "FINAL ANSWER" in result.stdout  # the excerpt of the blamed step


def test_attribute_json_is_a_verdict() -> None:
    result = _run("attribute", str(EXAMPLE), "--tracer", "random", "--seed", "2", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["version"] == 1 and document["kind"] == "attribution"
    verdict = document["verdict"]
    assert verdict["tracer"] == "random" and verdict["agent"] in {
        "Planner",
        "Time_Expert",
        "Verification_Expert",
    }
    assert 0 <= verdict["step"] < 6


def test_tracers_lists_the_registry() -> None:
    result = _run("tracers")
    assert result.exit_code == 0
    for name in ("random", "first-agent-step", "last-agent-step"):
        assert name in result.stdout


def test_eval_random_json_on_all_184_records(data_dir: Path, tmp_path: Path) -> None:
    args = ["eval", "--bench", "who-and-when", "--tracer", "random", "--json"]
    result = _run(*args, "--data", str(data_dir), "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {k: v["n"] for k, v in summary["subsets"].items()} == {
        "hand-crafted": 58,
        "algorithm-generated": 126,
        "all": 184,
    }
    for subset in summary["subsets"].values():
        for metric in ("agent_accuracy", "step_accuracy"):
            assert abs(subset["expected"][metric]["z"]) < 3  # within sampling error

    again = _run(*args[:-1], "--data", str(data_dir), "--out", str(tmp_path))
    assert again.exit_code == 0
    assert "0 computed, 184 resumed" in again.stdout
    assert "algorithm-generated" in again.stdout


def test_eval_subset_and_no_ground_truth_are_recorded(data_dir: Path, tmp_path: Path) -> None:
    result = _run(
        "eval", "--bench", "who-and-when", "--subset", "hand-crafted", "--tracer", "first-agent-step",
        "--no-ground-truth", "--tolerance", "2", "--data", str(data_dir), "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["setting"] == "without ground truth"
    assert set(summary["subsets"]) == {"hand-crafted", "all"}
    assert set(summary["subsets"]["all"]["step_accuracy_within"]) == {"2"}
    assert (tmp_path / "results.md").read_text().startswith("# first-agent-step on who-and-when")


def test_eval_tracertraj(data_dir: Path, tmp_path: Path) -> None:
    result = _run(
        "eval",
        "--bench",
        "tracertraj",
        "--tracer",
        "last-agent-step",
        "--data",
        str(data_dir),
        "--out",
        str(tmp_path),
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["subsets"]["tracertraj"]["n"] == 127


def test_convert_to_jsonl_and_back_to_who_and_when(tmp_path: Path) -> None:
    jsonl = tmp_path / "example.jsonl"
    assert _run("convert", str(EXAMPLE), str(jsonl)).exit_code == 0
    record = tmp_path / "example.json"
    assert _run("convert", str(jsonl), str(record), "--to", "who-and-when").exit_code == 0
    assert json.loads(record.read_text()) == json.loads(EXAMPLE.read_text())


def _write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content)
    return path


BAD_FILES = {
    "not-json.json": ("this is not json", "not valid JSON"),
    "unknown.json": ('{"spans": []}', "no known trajectory format"),
    "empty-history.json": (
        '{"history": [], "mistake_agent": "A", "mistake_step": "0"}',
        "zero steps",
    ),
    "out-of-range.json": (
        '{"history": [{"content": "x", "role": "A"}], "mistake_agent": "A", "mistake_step": "5"}',
        "mistake_step 5 is outside the history",
    ),
}


@pytest.mark.parametrize("command", ["show", "attribute"])
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_trace_files_exit_2_with_one_line(tmp_path: Path, command: str, name: str) -> None:
    content, message = BAD_FILES[name]
    path = _write(tmp_path, name, content)
    extra = ["--tracer", "random"] if command == "attribute" else []
    result = _run(command, str(path), *extra)
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and str(path) in line and message in line


def test_unknown_tracer_exits_2(data_dir: Path) -> None:
    known = ", ".join(spec.name for spec in tracer_specs())
    for args in (
        ["attribute", str(EXAMPLE), "--tracer", "nope"],
        ["eval", "--bench", "who-and-when", "--tracer", "nope", "--data", str(data_dir)],
    ):
        result = _run(*args)
        assert result.exit_code == 2
        assert result.stderr.strip() == f"error: unknown tracer 'nope'; known tracers: {known}"


def test_attribute_without_a_model_uses_the_offline_tracer_and_says_what_it_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("AGENTRACER_MODEL", raising=False)
    result = _run("attribute", str(EXAMPLE), "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)["verdict"]
    assert verdict["tracer"] == "fast" and verdict["step"] is not None
    said = " ".join(result.stderr.split())
    assert "no model configured: using the offline `fast` tracer" in said
    assert "on systems it never saw" in said and "top-3" in said
    run = json.loads(EXAMPLE.read_text())
    contents = [m["content"] for m in run["history"]]
    assert verdict["evidence"] and all(
        any(e["quote"].strip("…") in c for c in contents) for e in verdict["evidence"]
    )  # evidence is verbatim text from the run
    assert run["question"][:40] not in verdict["reason"]  # the reason never echoes the prompt


def test_attribute_with_the_embedded_model_named_uses_all_at_once(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("AGENTRACER_MODEL", raising=False)
    result = _run("attribute", str(EXAMPLE), "--model", "local/smollm2-135m", "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)["verdict"]
    assert verdict["tracer"] == "all-at-once" and verdict["parse_status"] == "parsed"
    assert verdict["usage"]["calls"] == 1
    assert "using the embedded model" in result.stderr and "not for accuracy" in result.stderr
    again = _run("attribute", str(EXAMPLE), "--model", "local/smollm2-135m", "--json")
    assert json.loads(again.stdout)["verdict"]["usage"]["cached_calls"] == 1


def test_attribute_with_a_model_behind_an_endpoint(scripted, cache_dir: Path) -> None:
    scripted.default = Reply(
        body=completion("Agent Name: Time_Expert\nStep Number: 1\nReason for Mistake: 3h35")
    )
    result = _run(
        "attribute", str(EXAMPLE), "--model", "openai/scripted", "--base-url", scripted.base_url,
        "--option", "step_numbers=true",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "agent: Time_Expert" in result.stdout and "step:  1" in result.stdout
    assert "Step 0 - Planner" in scripted.requests[0]["messages"][-1]["content"]
    assert "grammar" not in scripted.requests[0]  # endpoints get no grammar unless asked
    constrained = _run(
        "attribute", str(EXAMPLE), "--model", "openai/scripted", "--base-url", scripted.base_url,
        "--constrain", "--no-cache",
    )  # fmt: skip
    assert constrained.exit_code == 0 and "Time_Expert" in scripted.requests[1]["grammar"]


def test_model_errors_are_one_line(scripted, cache_dir: Path) -> None:
    scripted.default = error(401, "bad key")
    result = _run(
        "attribute", str(EXAMPLE), "--model", "openai/scripted", "--base-url", scripted.base_url
    )
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "rejected the API key (HTTP 401)" in line
    bad_option = _run(
        "attribute",
        str(EXAMPLE),
        "--model",
        "openai/x",
        "--base-url",
        scripted.base_url,
        "-o",
        "nope=1",
    )
    assert bad_option.exit_code == 2 and "bad option for all-at-once: nope" in bad_option.stderr
    bad_model = _run("attribute", str(EXAMPLE), "--model", "gpt-4o")
    assert bad_model.exit_code == 2 and "not named provider/model" in bad_model.stderr


def test_eval_with_an_llm_tracer_resumes_from_the_run_directory(
    data_dir: Path, tmp_path: Path, scripted, cache_dir: Path
) -> None:
    folder = tmp_path / "data" / "Algorithm-Generated"
    folder.mkdir(parents=True)
    for stem in ("1", "2", "3"):
        source = data_dir / "who_and_when" / "Algorithm-Generated" / f"{stem}.json"
        (folder / f"{stem}.json").write_text(source.read_text())
    scripted.default = Reply(body=completion("Agent Name: nobody\nStep Number: 0", 100, 7))
    args = [
        "eval", "--bench", "who-and-when", "--subset", "algorithm-generated", "--tracer", "all-at-once",
        "--model", "openai/scripted", "--base-url", scripted.base_url, "--data", str(tmp_path / "data"),
        "--out", str(tmp_path / "run"), "--json",
    ]  # fmt: skip
    result = _run(*args)
    assert result.exit_code == 0, result.output
    subset = json.loads(result.stdout)["subsets"]["algorithm-generated"]
    assert subset["n"] == 3 and subset["parse"]["partial"] == 3
    assert subset["cost"]["per_trajectory"]["calls"] == 1
    assert subset["cost"]["per_trajectory"]["prompt_tokens"] == 100
    assert len(scripted.requests) == 3
    assert json.loads(_run(*args).stdout)["resumed"] == 3 and len(scripted.requests) == 3


def test_models_list_and_pull(smollm2_path: Path) -> None:
    listing = _run("models", "list")
    assert (
        listing.exit_code == 0
        and "local/smollm2-135m" in listing.stdout
        and "Apache-2.0" in listing.stdout
    )
    pulled = _run("models", "pull")
    assert pulled.exit_code == 0 and str(smollm2_path) in pulled.stdout.replace("\n", "")
    unknown = _run("models", "pull", "giant")
    assert unknown.exit_code == 2 and "no embedded model named 'giant'" in unknown.stderr


def test_missing_dataset_exits_2_saying_where_it_looked(tmp_path: Path) -> None:
    result = _run("eval", "--bench", "who-and-when", "--tracer", "random", "--data", str(tmp_path))
    assert result.exit_code == 2
    assert f"looked in: --data {tmp_path}" in result.stderr


def test_eval_skips_a_bad_record_and_goes_on(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "data" / "Hand-Crafted"
    folder.mkdir(parents=True)
    for stem in ("1", "2"):
        (folder / f"{stem}.json").write_text(
            (data_dir / "who_and_when" / "Hand-Crafted" / f"{stem}.json").read_text()
        )
    (folder / "3.json").write_text("{ not json")
    result = _run(
        "eval", "--bench", "who-and-when", "--subset", "hand-crafted", "--tracer", "random",
        "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: skipped" in result.stderr and "3.json: not valid JSON" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["subsets"]["hand-crafted"]["n"] == 2 and len(summary["skipped"]) == 1


def test_console_script_reports_errors_without_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.json", "[")
    completed = subprocess.run(
        [sys.executable, "-m", "agentracer.cli", "show", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert completed.stderr.strip().startswith(f"error: {path}: not valid JSON")


def test_eval_scores_a_dataset_given_by_path(who_and_when, tmp_path: Path) -> None:
    from agentracer.formats import write_jsonl

    trajectories = [t for _, t in who_and_when.trajectories()][:5]
    dataset = tmp_path / "mine.jsonl"
    write_jsonl(trajectories, dataset)
    with dataset.open("a") as handle:
        handle.write('{"broken": true}\n')
    result = _run(
        "eval",
        "--bench",
        str(dataset),
        "--tracer",
        "first-agent-step",
        "--out",
        str(tmp_path / "run"),
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["subsets"]["dataset"]["n"] == 5 and len(summary["skipped"]) == 1
    assert "warning: skipped" in result.stderr
    folder = tmp_path / "folder"
    folder.mkdir()
    write_jsonl(trajectories[:2], folder / "part.jsonl")
    result = _run(
        "eval",
        "--bench",
        str(folder),
        "--tracer",
        "random",
        "--out",
        str(tmp_path / "run2"),
        "--json",
    )
    assert json.loads(result.stdout)["subsets"]["all"]["n"] == 2
