"""One run of a real framework (smolagents' CodeAgent) against whatever OPENAI_BASE_URL serves."""

import os

from smolagents import CodeAgent, OpenAIServerModel

model = OpenAIServerModel(
    model_id="local-model", api_base=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"],
    max_tokens=120, temperature=0,
)  # fmt: skip
agent = CodeAgent(tools=[], model=model, max_steps=1, verbosity_level=0)
try:
    result = agent.run("What is 2 + 3? Answer with final_answer(5).")
except Exception as error:  # a small model may not finish; the run is still recorded
    result = f"error: {error}"
print(f"FINAL: {result}")
