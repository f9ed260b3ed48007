"""Reference multi-agent systems for the replay lab.

They talk to their model only through the `openai` SDK (`OPENAI_BASE_URL`), like any program
a user would record, and report their task and tool results to the proxy when it is there.
"""
