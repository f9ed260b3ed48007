"""One concurrency limit and one 429 backoff per model endpoint, shared by every Ray worker.

A Ray actor (`EndpointLimiter`, one per cluster) holds, per endpoint, a semaphore of `limit`
slots (fixed by the first caller for that endpoint) and the time until which the endpoint is
paused. Each worker wraps its model's backend in
`SharedLimitBackend` (async: tracers, the annotate analyzer and attacker), and each replay's
upstream in `SharedLimitUpstream` (sync: called from the replay proxy's threads): a call takes a
slot for its whole duration (so `limit` holds across the cluster, not per worker), and every
HTTP attempt, the SDK's own retries included, first waits out the endpoint's pause. A 429 seen by any worker doubles the shared backoff (or honours the
server's `Retry-After`) and pauses every worker; successes halve it again.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agentracer.llm.backend import Backend
from agentracer.llm.types import ChatRequest, ChatResponse
from agentracer.replay.upstream import Upstream
from agentracer.scale.cluster import require_ray

LIMITER_NAME = "agentracer-endpoint-limiter"
NAMESPACE = "agentracer"
DEFAULT_LIMIT = 8


class EndpointLimiter:
    """Actor state: per-endpoint slots, pause and backoff (see the module docstring)."""

    def __init__(self, base_backoff: float = 0.5, max_backoff: float = 30.0) -> None:
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._limits: dict[str, int] = {}
        self._active: dict[str, int] = {}
        self._peak: dict[str, int] = {}
        self._paused_until: dict[str, float] = {}
        self._backoff: dict[str, float] = {}
        self._rate_limited: dict[str, int] = {}

    async def acquire(self, key: str, limit: int = DEFAULT_LIMIT) -> None:
        if key not in self._slots:
            self._limits[key] = limit
            self._slots[key] = asyncio.Semaphore(limit)
        slots = self._slots[key]
        await slots.acquire()
        self._active[key] = self._active.get(key, 0) + 1
        self._peak[key] = max(self._peak.get(key, 0), self._active[key])

    def release(self, key: str) -> None:
        self._active[key] -= 1
        self._slots[key].release()

    def pause_left(self, key: str) -> float:
        """Seconds until `key` may be called again (0 when it is not paused)."""
        return max(0.0, self._paused_until.get(key, 0.0) - time.monotonic())

    def rate_limited(self, key: str, retry_after: float | None = None) -> float:
        """Record a 429 from `key`; returns the pause every worker now waits out."""
        self._rate_limited[key] = self._rate_limited.get(key, 0) + 1
        previous = self._backoff.get(key, 0.0)
        backoff = min(self.max_backoff, max(self.base_backoff, 2 * previous))
        self._backoff[key] = backoff
        wait = retry_after if retry_after is not None else backoff
        self._paused_until[key] = max(self._paused_until.get(key, 0.0), time.monotonic() + wait)
        return wait

    def succeeded(self, key: str) -> None:
        self._backoff[key] = self._backoff.get(key, 0.0) / 2

    def stats(self, key: str) -> dict[str, Any]:
        return {
            "limit": self._limits.get(key),
            "active": self._active.get(key, 0),
            "peak": self._peak.get(key, 0),
            "rate_limited": self._rate_limited.get(key, 0),
            "backoff": self._backoff.get(key, 0.0),
        }


def get_limiter() -> Any:
    """The cluster's limiter actor (a named actor), created on first use."""
    ray = require_ray()
    actor = ray.remote(num_cpus=0, max_concurrency=1000)(EndpointLimiter)
    return actor.options(name=LIMITER_NAME, namespace=NAMESPACE, get_if_exists=True).remote()


def endpoint_key(backend: Backend | Upstream) -> str:
    """What identifies an endpoint: the server URL for OpenAI-compatible backends and
    upstreams (the same server is one endpoint whichever model is asked of it)."""
    base_url = getattr(backend, "base_url", None)
    return str(base_url).rstrip("/") if base_url else backend.name


class SharedLimitBackend:
    """A backend whose calls take a cluster-wide slot and respect the cluster-wide pause."""

    def __init__(self, inner: Backend, limiter: Any, limit: int = DEFAULT_LIMIT) -> None:
        self.inner = inner
        self.limiter = limiter
        self.limit = limit
        self.key = endpoint_key(inner)
        self.name = inner.name
        self.context_window = inner.context_window
        self.supports_grammar = inner.supports_grammar
        _hook_http_attempts(inner, limiter, self.key)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        await self.limiter.acquire.remote(self.key, self.limit)
        try:
            return await self.inner.complete(request)
        finally:
            self.limiter.release.remote(self.key)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _hook_http_attempts(inner: Backend, limiter: Any, key: str) -> None:
    """Make every HTTP attempt of an OpenAI-compatible backend wait out the shared pause and
    report 429s, including the attempts the SDK retries on its own."""
    client = getattr(inner, "client", None)
    if client is None:
        return
    import openai

    async def before(_request: Any) -> None:
        wait = await limiter.pause_left.remote(key)
        if wait > 0:
            await asyncio.sleep(wait)

    async def after(response: Any) -> None:
        if response.status_code == 429:
            await limiter.rate_limited.remote(key, _retry_after(response.headers))
        elif response.status_code < 400:
            limiter.succeeded.remote(key)

    http = openai.DefaultAsyncHttpxClient(event_hooks={"request": [before], "response": [after]})
    inner.client = client.with_options(http_client=http)  # type: ignore[attr-defined]


class SharedLimitUpstream:
    """A replay upstream whose calls take a cluster-wide slot and respect the cluster-wide
    pause; synchronous, as the replay proxy calls its upstream from its request threads."""

    def __init__(self, inner: Upstream, limiter: Any, limit: int = DEFAULT_LIMIT) -> None:
        self.inner = inner
        self.limiter = limiter
        self.limit = limit
        self.key = endpoint_key(inner)
        self.name = inner.name
        self.secrets = inner.secrets
        _hook_sync_http_attempts(inner, limiter, self.key)

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        ray = require_ray()
        ray.get(self.limiter.acquire.remote(self.key, self.limit))
        try:
            return self.inner.complete(body)
        finally:
            self.limiter.release.remote(self.key)


def _hook_sync_http_attempts(inner: Upstream, limiter: Any, key: str) -> None:
    """`_hook_http_attempts` for the synchronous client of an `OpenAIUpstream`."""
    client = getattr(inner, "client", None)
    if client is None:
        return
    import openai

    ray = require_ray()

    def before(_request: Any) -> None:
        wait = ray.get(limiter.pause_left.remote(key))
        if wait > 0:
            time.sleep(wait)

    def after(response: Any) -> None:
        if response.status_code == 429:
            ray.get(limiter.rate_limited.remote(key, _retry_after(response.headers)))
        elif response.status_code < 400:
            limiter.succeeded.remote(key)

    http = openai.DefaultHttpxClient(event_hooks={"request": [before], "response": [after]})
    inner.client = client.with_options(http_client=http)  # type: ignore[attr-defined]


def _retry_after(headers: Any) -> float | None:
    try:
        return float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


def share_limits(model: Any, limit: int = DEFAULT_LIMIT) -> None:
    """Put `model`'s backend (a `ChatModel`) behind the cluster's shared limiter, once."""
    if model is not None and not isinstance(model.backend, SharedLimitBackend):
        model.backend = SharedLimitBackend(model.backend, get_limiter(), limit)
