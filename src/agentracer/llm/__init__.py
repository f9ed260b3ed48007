"""The LLM layer: one async chat interface over OpenAI-compatible endpoints and embedded models."""

from agentracer.llm.client import ChatModel, get_model, usage_of
from agentracer.llm.types import ChatRequest, ChatResponse, ConnectionSettings

__all__ = [
    "ChatModel",
    "ChatRequest",
    "ChatResponse",
    "ConnectionSettings",
    "get_model",
    "usage_of",
]
