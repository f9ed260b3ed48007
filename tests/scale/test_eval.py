"""`eval` on a real local Ray cluster: same summary as in-process, nothing lost or duplicated
when a worker or the driver is killed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.evaluation import RunConfig, evaluate
from agentracer.evaluation.runner import RESULTS_FILE
from agentracer.formats import Benchmark
from agentracer.scale.eval import attribute_item, evaluate_on_ray, run_evaluation_on_ray
from agentracer.tracers.baselines import RandomTracer

VOLATILE = ("computed", "resumed")  # how the results were obtained, not what they are


def _config() -> RunConfig:
    return RunConfig(
        bench="who-and-when", subsets=["hand-crafted", "algorithm-generated"], tracer="random"
    )


def _ids(run_dir: Path) -> Counter[str]:
    lines = (run_dir / RESULTS_FILE).read_text().splitlines()
    return Counter(json.loads(line)["id"] for line in lines)


def _stable(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in VOLATILE}


def test_summary_is_identical_to_the_in_process_run(
    ray_cluster: Any, who_and_when: Benchmark, tmp_path: Path
) -> None:
    local, _ = evaluate(who_and_when, RandomTracer(0), _config(), tmp_path / "local")
    on_ray, outcome = evaluate_on_ray(who_and_when, _config(), tmp_path / "ray")
    assert outcome.computed == 184 and not outcome.failed
    assert on_ray == local
    assert (tmp_path / "ray" / "results.md").read_text() == (
        tmp_path / "local" / "results.md"
    ).read_text()
    assert set(_ids(tmp_path / "ray").values()) == {1}


def test_a_worker_killed_mid_task_loses_and_duplicates_nothing(
    ray_cluster: Any, who_and_when: Benchmark, tmp_path: Path
) -> None:
    victims = [t.id for _, t in who_and_when.trajectories()][3:5]
    marks = tmp_path / "killed"
    marks.mkdir()

    def dies_once(item: dict[str, Any]) -> dict[str, Any]:
        # the first attempt at each victim kills its worker process outright
        mark = marks / hashlib.sha1(item["trajectory"]["id"].encode()).hexdigest()
        if item["trajectory"]["id"] in victims and not mark.exists():
            mark.touch()
            os._exit(1)
        return attribute_item(item)

    run_dir = tmp_path / "run"
    outcome = run_evaluation_on_ray(who_and_when, _config(), run_dir, task=dies_once)
    assert len(list(marks.iterdir())) == 2  # both workers really died
    assert not outcome.failed and outcome.computed == 184
    ids = _ids(run_dir)
    assert len(ids) == 184 and set(ids.values()) == {1}


DRIVER = """
import sys, time
from pathlib import Path
import ray
from agentracer.evaluation import RunConfig
from agentracer.formats import load_benchmark
from agentracer.scale.eval import attribute_item

def slow(item):
    time.sleep(0.05)
    return attribute_item(item)

ray.init(address=sys.argv[1], log_to_driver=False, configure_logging=False)
config = RunConfig(bench="who-and-when", subsets=["hand-crafted", "algorithm-generated"], tracer="random")
bench = load_benchmark("who-and-when", data=sys.argv[3])
from agentracer.scale.eval import run_evaluation_on_ray
run_evaluation_on_ray(bench, config, Path(sys.argv[2]), task=slow, window=2)
"""


def test_a_driver_killed_and_restarted_loses_and_duplicates_nothing(
    ray_cluster: Any, who_and_when: Benchmark, data_dir: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    address = ray_cluster.get_runtime_context().gcs_address
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    driver = subprocess.Popen(
        [sys.executable, str(script), address, str(run_dir), str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = run_dir / RESULTS_FILE
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and driver.poll() is None:
        if results.exists() and len(results.read_text().splitlines()) >= 10:
            break
        time.sleep(0.05)
    assert driver.poll() is None, driver.stderr.read() if driver.stderr else ""
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    written = len(results.read_text().splitlines())
    assert 10 <= written < 184

    summary, outcome = evaluate_on_ray(who_and_when, _config(), run_dir)
    assert outcome.resumed >= 10 and outcome.resumed + outcome.computed == 184
    ids = _ids(run_dir)
    assert len(ids) == 184 and set(ids.values()) == {1}
    local, _ = evaluate(who_and_when, RandomTracer(0), _config(), tmp_path / "local")
    assert _stable(summary) == _stable(local)


def test_cli_eval_with_ray_matches_the_in_process_cli(
    ray_cluster: Any, data_dir: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    common = ["eval", "--bench", "who-and-when", "--tracer", "random", "--data", str(data_dir)]
    local = runner.invoke(app, [*common, "--out", str(tmp_path / "a"), "--json"])
    on_ray = runner.invoke(app, [*common, "--out", str(tmp_path / "b"), "--json", "--ray"])
    assert local.exit_code == 0 and on_ray.exit_code == 0, on_ray.output
    assert (tmp_path / "a" / "summary.json").read_text() == (
        tmp_path / "b" / "summary.json"
    ).read_text().replace(str(tmp_path / "b"), str(tmp_path / "a"))


def test_without_ray_the_option_says_which_extra_to_install(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails, as when not installed
    common = ["eval", "--bench", "who-and-when", "--tracer", "random", "--data", str(data_dir)]
    result = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "run"), "--ray"])
    assert result.exit_code == 2
    assert "pip install 'agentracer-attribution[scale]'" in result.output
    assert not (tmp_path / "run").exists()
