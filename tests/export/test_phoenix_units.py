"""The parts of the Phoenix adapter that need no server: time windows and server URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agentracer.errors import ExportError
from agentracer.export.phoenix_sync import parse_time


def test_parse_time() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert parse_time("90m", now) == now - timedelta(minutes=90)
    assert parse_time("1h30m", now) == now - timedelta(minutes=90)
    assert parse_time("2026-12-01T10:00", now) == datetime(2026, 12, 1, 10, tzinfo=UTC)
    with pytest.raises(Exception, match="neither a duration"):
        parse_time("yesterday", now)


def test_a_phoenix_url_may_name_its_span_endpoint() -> None:
    from agentracer.export.phoenix import PhoenixClient

    client = PhoenixClient("http://127.0.0.1:6006/v1/traces")
    assert client.url == "http://127.0.0.1:6006"
    client.close()
    with pytest.raises(ExportError, match="not the http"):
        PhoenixClient("127.0.0.1:6006")
