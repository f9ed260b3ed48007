"""Write `ag2/groupchat_messages.json` with real AG2 (classic `autogen` API, ag2 0.9.10).

The `{role, name, content}` chat histories are what AG2's classic API keeps
(`GroupChat.messages`, `ChatResult.chat_history`, `ConversableAgent.chat_messages`); ag2 1.x
is a new event-based library without them, so the `frameworks` extra installs ag2 0.9.
Run from the repository root: `python -m tests.formats.data.ag2.make_ag2`.

A group chat: `user` asks, `planner` briefs `researcher`, who calls `get_population` (run by
`executor`) and then answers wrongly. Speakers are chosen by a function (no model call), the
model is the scripted loopback server (stream false). The file is `groupchat.messages`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autogen import (
    AssistantAgent,
    GroupChat,
    GroupChatManager,
    UserProxyAgent,
    register_function,
)

from tests.formats.data.scripted import text, tool_call
from tests.llm.loopback import ScriptedServer

OUT = Path(__file__).with_name("groupchat_messages.json")


def get_population(city: str) -> str:
    """The population of a city."""
    return {"Paris": "2,102,650 (2023 census)"}.get(city, "unknown")


def run(base_url: str) -> list[dict[str, Any]]:
    llm_config = {
        "config_list": [{"model": "scripted", "base_url": base_url, "api_key": "test-key"}],
        "cache_seed": None,
    }
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    planner = AssistantAgent(
        "planner", llm_config=llm_config, system_message="Brief the researcher."
    )
    researcher = AssistantAgent(
        "researcher", llm_config=llm_config, system_message="Answer with facts from tools."
    )
    executor = UserProxyAgent("executor", human_input_mode="NEVER", code_execution_config=False)
    register_function(
        get_population,
        caller=researcher,
        executor=executor,
        description="The population of a city.",
    )

    def next_speaker(last: Any, chat: GroupChat) -> Any:
        message = chat.messages[-1]
        if message.get("tool_calls"):
            return executor
        if last is user:
            return planner
        if last in (planner, executor):
            return researcher
        return None  # the researcher answered: the chat ends

    chat = GroupChat(
        agents=[user, planner, researcher, executor],
        messages=[],
        max_round=8,
        speaker_selection_method=next_speaker,
    )
    manager = GroupChatManager(chat, llm_config=llm_config)
    user.initiate_chat(manager, message="What is the population of Paris?")
    return chat.messages


def write(out: Path = OUT) -> None:
    """Run the group chat and write its messages to `out`."""
    with ScriptedServer() as server:
        server.script = [
            text("Researcher: look up the census figure for Paris."),
            tool_call("get_population", {"city": "Paris"}, "call_pop_1"),
            text("Paris has about 3 million inhabitants."),
        ]
        messages = run(server.base_url)
    out.write_text(json.dumps(messages, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {len(messages)} messages to {out}")


def main() -> None:
    write()


if __name__ == "__main__":
    main()
