import pytest

from agentracer.replay.policy import DivergenceError, ReplayPolicy, canonical, substitute
from agentracer.replay.recording import ModelCall, Recording
from tests.replay.conftest import FakeUpstream


def _call(i: int, text: str) -> ModelCall:
    request = {"messages": [{"role": "user", "content": f"q{i}"}], "model": "m"}
    response = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ]
    }
    return ModelCall(
        index=i, agent=f"A{i}", agent_source="header", request=request, response=response
    )


SOURCE = Recording(
    id="r", command=["x"], model="m", events=[_call(0, "a"), _call(1, "b"), _call(2, "c")]
)


def test_canonical_ignores_delivery_fields_only() -> None:
    body = {"messages": [], "model": "m"}
    assert canonical(body) == canonical(
        {**body, "stream": True, "stream_options": {"include_usage": True}}
    )
    assert canonical(body) != canonical({**body, "temperature": 0.5})


def test_substitute_replaces_the_message_and_drops_tool_calls() -> None:
    response = {
        "id": "x",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [{}]},
                "finish_reason": "tool_calls",
            }
        ],
    }
    new = substitute(response, "fixed")
    assert new["choices"][0]["message"] == {"role": "assistant", "content": "fixed"}
    assert new["choices"][0]["finish_reason"] == "stop" and new["id"] == "x"
    assert response["choices"][0]["finish_reason"] == "tool_calls"  # the recording is untouched


def test_replay_policy_order() -> None:
    upstream = FakeUpstream()
    policy = ReplayPolicy(SOURCE, 1, "B!", upstream)
    assert policy.respond(0, SOURCE.calls()[0].request) == (
        SOURCE.calls()[0].response,
        "recorded",
        False,
    )
    response, origin, _ = policy.respond(1, SOURCE.calls()[1].request)
    assert origin == "substituted" and response["choices"][0]["message"]["content"] == "B!"
    live_body = {
        "messages": [
            {"role": "system", "content": "You are the worker."},
            {"role": "user", "content": "go"},
        ]
    }
    assert policy.respond(2, live_body)[1] == "live" and len(upstream.calls) == 1


def test_divergence_fail_and_live() -> None:
    changed = {"messages": [{"role": "user", "content": "something else"}], "model": "m"}
    with pytest.raises(DivergenceError, match=r"call 0 \(A0\): message 0 differs"):
        ReplayPolicy(SOURCE, 1, "x", FakeUpstream()).respond(0, changed)
    policy = ReplayPolicy(SOURCE, 1, "x", FakeUpstream(), on_divergence="live")
    changed_worker = {
        "messages": [
            {"role": "system", "content": "You are the worker."},
            {"role": "user", "content": "?"},
        ]
    }
    assert policy.respond(0, changed_worker)[1:] == ("live", True)
    assert policy.respond(1, SOURCE.calls()[1].request)[1] == "live"  # once diverged, all live


def test_a_substitute_may_carry_tool_calls() -> None:
    calls = [{"id": "t1", "type": "function", "function": {"name": "run", "arguments": "{}"}}]
    policy = ReplayPolicy(SOURCE, 0, "", FakeUpstream(), tool_calls=calls)
    response, origin, _ = policy.respond(0, SOURCE.calls()[0].request)
    assert origin == "substituted"
    assert response["choices"][0]["message"]["tool_calls"] == calls
    assert response["choices"][0]["finish_reason"] == "tool_calls"
