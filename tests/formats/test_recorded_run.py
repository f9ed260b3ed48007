"""Recordings of the replay lab are one more registered format, read without the replay lab."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agentracer.formats import detect_format, load_one
from agentracer.formats import recording as rec
from agentracer.formats.registry import Probe
from agentracer.trajectory import Outcome, StepKind


def _recording(directory: Path) -> None:
    calls = [
        rec.ModelCall(
            index=0, agent="Planner", agent_source="name", request={"messages": []},
            response={"choices": [{"message": {"role": "assistant", "content": "plan"}}]},
        ),
        rec.ToolEvent(agent="checker", content="2 failed", after_call=1),
    ]  # fmt: skip
    recording = rec.Recording(
        id="r1", command=["python", "team.py"], model="openai/scripted", events=calls,
        outcome=rec.Outcome(status="failure", success=False),
    )  # fmt: skip
    rec.save(recording, directory)


def test_a_recording_directory_and_its_json_are_detected(tmp_path: Path) -> None:
    _recording(tmp_path / "rec")
    for path in (tmp_path / "rec", tmp_path / "rec" / rec.RECORDING_FILE):
        assert detect_format(Probe(path)).name == "agentracer-recording"
        trajectory = load_one(path)
        assert [s.kind for s in trajectory.steps] == [StepKind.AGENT, StepKind.TOOL]
        assert trajectory.outcome is Outcome.FAILURE
        assert trajectory.metadata["call_steps"] == {"0": 0}


def test_the_replay_lab_names_still_work() -> None:
    from agentracer.formats import recorded_run
    from agentracer.replay import convert, recording

    assert recording.Recording is rec.Recording and recording.load is rec.load
    assert convert.to_trajectory is recorded_run.to_trajectory


def test_the_formats_layer_does_not_import_the_replay_lab() -> None:
    code = "import sys, agentracer.formats; print(any(m.startswith('agentracer.replay') for m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
