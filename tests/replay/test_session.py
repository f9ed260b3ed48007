"""Recording and replaying a scripted program through the proxy (deterministic upstream)."""

import json
from pathlib import Path

import pytest

from agentracer.errors import AgenTracerError
from agentracer.formats import load_one
from agentracer.replay import recording as rec
from agentracer.replay.proxy import encode
from agentracer.replay.session import RecordingExistsError, record, replay
from tests.replay.conftest import FakeUpstream, team


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_record_keeps_every_call_in_order_with_its_agent(
    upstream: FakeUpstream, tmp_path: Path, stream: bool
) -> None:
    flags = ("--stream",) if stream else ()
    recording = record(team(*flags), upstream, tmp_path / "rec")
    calls = recording.calls()
    assert [c.agent for c in calls] == ["Planner", "Worker", "Reviewer"]
    assert {c.agent_source for c in calls} == {"header"}
    assert [c.index for c in calls] == [0, 1, 2] and all(c.origin == "live" for c in calls)
    assert all(c.stream is stream for c in calls)
    assert calls[1].content() == "worker answer 2"
    assert recording.outcome.status == "success" and recording.outcome.success is True
    assert recording.task.question == "Plan, do and review a task."
    tool = [e for e in recording.events if e.kind == "tool"]
    assert (
        len(tool) == 1 and tool[0].after_call == 2 and tool[0].content == "checked: worker answer 2"
    )
    assert (tmp_path / "rec" / "mas.stdout").read_text().strip() == "FINAL: approved"
    assert rec.load(tmp_path / "rec") == recording


def test_replay_freezes_the_prefix_substitutes_t_and_goes_live_after(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    original = record(team(), upstream, tmp_path / "rec")
    live = FakeUpstream()
    replayed = replay(tmp_path / "rec", 1, "BROKEN work", live, tmp_path / "rep")
    calls = replayed.calls()
    assert [c.origin for c in calls] == ["recorded", "substituted", "live"]
    # The frozen prefix is served byte for byte as recorded.
    assert encode(calls[0].response) == encode(original.calls()[0].response)
    assert calls[1].content() == "BROKEN work"
    # Only the calls after T reached the model, and they saw the substitute.
    assert len(live.calls) == 1 and "BROKEN work" in live.calls[0]["messages"][-1]["content"]
    assert replayed.outcome.status == "failure"  # the reviewer rejected the broken work
    assert (
        replayed.replay is not None
        and replayed.replay.at == 1
        and replayed.replay.divergence is None
    )
    trajectory = load_one(tmp_path / "rep")
    assert trajectory.steps[1].content == "BROKEN work" and trajectory.outcome.value == "failure"


def test_a_changed_request_before_t_is_a_divergence(upstream: FakeUpstream, tmp_path: Path) -> None:
    extra = tmp_path / "extra.txt"
    extra.write_text("")
    record(team("--diverge-file", str(extra)), upstream, tmp_path / "rec")
    extra.write_text(" (and something new)")
    failed = replay(tmp_path / "rec", 2, "approved", FakeUpstream(), tmp_path / "fail")
    assert failed.outcome.status == "diverged"
    assert "call 1 (Worker): message 1 differs" in failed.outcome.message
    went_live = replay(
        tmp_path / "rec", 2, "approved", FakeUpstream(), tmp_path / "live", on_divergence="live"
    )
    assert [c.origin for c in went_live.calls()] == ["recorded", "live", "live"]
    assert went_live.calls()[1].diverged and went_live.replay and went_live.replay.divergence


def test_t_outside_the_recording_is_refused(upstream: FakeUpstream, tmp_path: Path) -> None:
    record(team(), upstream, tmp_path / "rec")
    with pytest.raises(
        AgenTracerError, match=r"--at 3 is outside the recording's model calls \(0..2\)"
    ):
        replay(tmp_path / "rec", 3, "x", FakeUpstream(), tmp_path / "rep")


@pytest.mark.parametrize(
    ("flags", "status", "message"),
    [
        (("--crash",), "crashed", "exited with code 3"),
        (("--no-calls",), "no-calls", "never called the model"),
    ],
)
def test_bad_runs_are_marked(
    upstream: FakeUpstream, tmp_path: Path, flags, status: str, message: str
) -> None:
    recording = record(team(*flags), upstream, tmp_path / "rec")
    assert recording.outcome.status == status and message in recording.outcome.message
    assert rec.load(tmp_path / "rec").outcome.status == status


def test_a_hanging_program_is_killed_with_its_children(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    recording = record(team("--hang", timeout=2), upstream, tmp_path / "rec")
    assert recording.outcome.status == "timeout" and "killed" in recording.outcome.message
    assert recording.seconds < 20


def test_missing_command_and_missing_check(upstream: FakeUpstream, tmp_path: Path) -> None:
    program = team()
    program.command = ["/no/such/program"]
    assert record(program, upstream, tmp_path / "a").outcome.status == "crashed"
    program = team()
    program.check = "no-such-check-command --flag"
    recording = record(program, upstream, tmp_path / "b")
    assert recording.outcome.status == "check-missing" and "not found" in recording.outcome.message
    program.check = None
    assert record(program, upstream, tmp_path / "c").outcome.status == "unchecked"


def test_an_upstream_failure_is_reported(tmp_path: Path) -> None:
    recording = record(team(), FakeUpstream(fail=True), tmp_path / "rec")
    assert (
        recording.outcome.status == "crashed"
        and "the fake upstream is down" in recording.outcome.message
    )


def test_nothing_is_overwritten(upstream: FakeUpstream, tmp_path: Path) -> None:
    record(team(), upstream, tmp_path / "rec")
    with pytest.raises(RecordingExistsError, match="already holds files"):
        record(team(), upstream, tmp_path / "rec")


def test_api_keys_never_reach_the_recording(
    upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-live-secret-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    record(team("--print-key"), upstream, tmp_path / "rec")
    for file in (tmp_path / "rec").iterdir():
        assert secret not in file.read_text(), file.name
    assert "KEY: agentracer-run-" in (tmp_path / "rec" / "mas.stdout").read_text()


def test_a_killed_recorder_leaves_a_loadable_event_log(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    record(team(), upstream, tmp_path / "rec")
    (tmp_path / "rec" / "recording.json").unlink()  # as if the recorder died before the end
    recovered = rec.load(tmp_path / "rec")
    assert recovered.outcome.status == "interrupted" and len(recovered.calls()) == 3
    assert recovered.command and recovered.task.question  # the header and task lines survive


def test_a_recording_is_a_trajectory(upstream: FakeUpstream, tmp_path: Path) -> None:
    record(team(), upstream, tmp_path / "rec")
    trajectory = load_one(tmp_path / "rec" / "recording.json")
    assert [s.speaker for s in trajectory.steps] == ["Planner", "Worker", "checker", "Reviewer"]
    assert [s.kind.value for s in trajectory.steps] == ["agent", "agent", "tool", "agent"]
    assert trajectory.agents == ["Planner", "Worker", "Reviewer"]
    assert trajectory.metadata["call_steps"] == {"0": 0, "1": 1, "3": 2}
    assert trajectory.outcome.value == "success"
    json.loads(trajectory.model_dump_json())


def test_not_a_recording(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text("{ torn\n")
    with pytest.raises(AgenTracerError, match="unreadable recording"):
        rec.load(tmp_path)


def test_a_python_check_function(upstream: FakeUpstream, tmp_path: Path) -> None:
    program = team()
    program.check = "py:tests.replay.programs.checks:approved"
    assert record(program, upstream, tmp_path / "a").outcome.status == "success"
    program.check = "py:tests.replay.programs.checks:broken"
    raised = record(program, upstream, tmp_path / "b").outcome
    assert raised.status == "failure" and "RuntimeError" in raised.message
    program.check = "py:tests.replay.programs.checks:absent"
    assert record(program, upstream, tmp_path / "c").outcome.status == "check-missing"


class FlakyUpstream(FakeUpstream):
    """Fails its second request once (the program's SDK retries the 502)."""

    def complete(self, body):
        if len(self.calls) == 1 and not getattr(self, "failed_once", False):
            self.failed_once = True
            self.calls.append(body)
            from agentracer.errors import LLMError

            raise LLMError("a passing hiccup")
        return super().complete(body)


def test_a_failed_call_consumes_no_index_and_replay_at_reaches_every_call(
    tmp_path: Path,
) -> None:
    recording = record(team(), FlakyUpstream(), tmp_path / "rec")
    assert recording.outcome.status == "success"
    assert [c.index for c in recording.calls()] == [0, 1, 2]
    replayed = replay(tmp_path / "rec", 2, "approved", FakeUpstream(), tmp_path / "rep")
    assert [c.origin for c in replayed.calls()] == ["recorded", "recorded", "substituted"]


def test_the_program_gets_the_run_token_never_the_key(
    upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-key-0123456789")
    monkeypatch.setenv("MY_COPY_OF_THE_KEY", "sk-real-key-0123456789")
    recording = record(team("--print-key"), upstream, tmp_path / "rec")
    printed = (tmp_path / "rec" / "mas.stdout").read_text()
    assert "KEY: agentracer-run-" in printed and "sk-real-key" not in printed
    assert recording.isolation  # what was isolated, or why not
