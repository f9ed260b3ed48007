"""The real Phoenix server fixture, shared by the Phoenix API and browser tests."""

from tests.export.phoenix_server import phoenix

__all__ = ["phoenix"]
