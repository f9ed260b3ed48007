"""AgenTracer: automated failure attribution for LLM multi-agent systems."""

__version__ = "0.1.0"
