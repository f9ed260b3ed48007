"""`eval`'s cost table: calls, prompt tokens and the share a prefix-caching server served."""

import json
from pathlib import Path

from typer.testing import CliRunner

from agentracer.cli import app
from tests.llm.loopback import PrefixCache, ScriptedServer


def test_eval_shows_the_prompt_tokens_a_caching_server_served(
    data_dir: Path, tmp_path: Path, scripted: ScriptedServer, cache_dir: Path
) -> None:
    folder = tmp_path / "data" / "Algorithm-Generated"
    folder.mkdir(parents=True)
    for stem in ("1", "2", "3"):
        source = data_dir / "who_and_when" / "Algorithm-Generated" / f"{stem}.json"
        (folder / f"{stem}.json").write_text(source.read_text())
    scripted.default = PrefixCache(lambda body: "Half: first\nReason: it starts there")
    args = [
        "eval", "--bench", "who-and-when", "--subset", "algorithm-generated",
        "--tracer", "binary-search", "--model", "openai/scripted", "--base-url", scripted.base_url,
        "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--concurrency", "1",
    ]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    cost = json.loads(result.stdout)["subsets"]["algorithm-generated"]["cost"]
    assert cost["calls"] >= 6  # at least two calls a run
    # the log is the shared prefix: later calls come (almost) whole from the server's cache
    assert 0.5 * cost["prompt_tokens"] < cost["cached_prompt_tokens"] < cost["prompt_tokens"]
    share = f"{100 * cost['cached_prompt_tokens'] / cost['prompt_tokens']:.2f}"
    table = (tmp_path / "run" / "results.md").read_text()
    assert "from the prompt cache %" in table and f"| {share} |" in table
    printed = CliRunner().invoke(app, args, env={"COLUMNS": "200"})  # resumed: same figures
    assert printed.exit_code == 0 and "cost of the model calls" in printed.stdout
    assert share in printed.stdout
