import pytest

from agentracer.naming import normalise_agent, same_agent, speaker_agent


@pytest.mark.parametrize(
    ("raw", "agent"),
    [
        ("Orchestrator (thought)", "Orchestrator"),
        ("Orchestrator (-> WebSurfer)", "Orchestrator"),
        ("Orchestrator (termination condition)", "Orchestrator"),
        ("WebSurfer", "WebSurfer"),
        ("Team Leader", "Team Leader"),
    ],
)
def test_speaker_agent_strips_channel_suffix(raw: str, agent: str) -> None:
    assert speaker_agent(raw) == agent


@pytest.mark.parametrize(
    "spelling", ["WebSurfer", "web surfer", "Web-Surfer", "**websurfer**", "WEB_SURFER"]
)
def test_spellings_of_one_agent_normalise_alike(spelling: str) -> None:
    assert normalise_agent(spelling) == "websurfer"


def test_same_agent_never_matches_empty_names() -> None:
    assert not same_agent("", "")
    assert not same_agent(None, "WebSurfer")
    assert same_agent("Verification_Expert", "VerificationExpert")
    assert not same_agent("WebSurfer", "FileSurfer")
