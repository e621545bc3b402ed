"""Misbehaviour on purpose for the test server: :class:`Faults` to inject, :class:`ServerLog` to count what arrived.

:class:`FaultInjector` wraps any ASGI app: it numbers inference requests (every
``POST``) 1, 2, ... in arrival order, answers some with a fault — a server
error, a slow answer, malformed JSON, a dropped connection, rate limiting —
and records each in the log, so tests can count what reached the server.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
from dataclasses import dataclass, field

__all__ = ["Faults", "ServerLog", "FaultInjector"]


@dataclass
class Faults:
    """Ways to misbehave, decided per inference request number (1, 2, ... in arrival order).

    Parameters
    ----------
    error_rate : float
        Share of requests answered ``503`` (request ``k`` fails when a
        generator seeded with ``(seed, k)`` draws below it).
    seed : int
    slow : set of int
        Requests that wait ``slow_s`` seconds before being answered.
    slow_s : float
    malformed : set of int
        Requests answered ``200`` with a body that is not valid JSON.
    drop : set of int
        Requests whose connection is closed half-way through the answer.
    rate_limit : set of int
        Requests answered ``429`` with ``Retry-After: retry_after`` (whole seconds).
    retry_after : int
    echo_credentials : bool
        A ``401`` answer repeats the ``Authorization`` header it received (a careless server).
    """

    error_rate: float = 0.0
    seed: int = 0
    slow: frozenset = frozenset()
    slow_s: float = 1.0
    malformed: frozenset = frozenset()
    drop: frozenset = frozenset()
    rate_limit: frozenset = frozenset()
    retry_after: int = 1
    echo_credentials: bool = False

    def pick(self, number: int) -> str | None:
        """The fault for request ``number``: ``"malformed"``, ``"drop"``, ``"rate_limit"``, ``"slow"``, ``"error"`` or ``None``."""
        for name in ("malformed", "drop", "rate_limit", "slow"):
            if number in getattr(self, name):
                return name
        if self.error_rate > 0 and random.Random(f"{self.seed}:{number}").random() < self.error_rate:
            return "error"
        return None


@dataclass
class ServerLog:
    """Every inference request that reached the server: ``(number, path, body sha256, status, fault, monotonic time answered)``."""

    hits: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _count: int = 0

    def next_number(self) -> int:
        with self._lock:
            self._count += 1
            return self._count

    def record(self, number: int, path: str, digest: str, status: int, fault: str | None) -> None:
        with self._lock:
            self.hits.append((number, path, digest, status, fault, time.monotonic()))

    def answered(self) -> set[str]:
        """Body digests answered properly (``200``, neither malformed nor dropped)."""
        with self._lock:
            return {digest for _, _, digest, status, fault, _ in self.hits if status == 200 and fault in (None, "slow")}

    def digests(self) -> list[str]:
        with self._lock:
            return [hit[2] for hit in self.hits]

    def clear(self) -> None:
        with self._lock:
            self.hits.clear()
            self._count = 0


class _Dropped(Exception):
    """Raised inside the app after a partial answer: the server then closes the connection."""


class FaultInjector:
    """ASGI wrapper: numbers and logs inference requests and applies :class:`Faults`."""

    def __init__(self, app, faults: Faults, log: ServerLog) -> None:
        self.app = app
        self.faults = faults
        self.log = log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        number, digest, path = self.log.next_number(), hashlib.sha256(body).hexdigest(), scope["path"]
        fault = self.faults.pick(number)

        async def reply(status: int, content: bytes, headers=()):
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode()), *headers]})
            await send({"type": "http.response.body", "body": content})
            self.log.record(number, path, digest, status, fault)

        if fault == "error":
            return await reply(503, b'{"error": "injected server error"}')
        if fault == "rate_limit":
            return await reply(429, b'{"error": "too many requests"}', [(b"retry-after", str(self.faults.retry_after).encode())])
        if fault == "malformed":
            return await reply(200, b'{"predictions": [[0.25, 0.75], [0.5')
        if fault == "drop":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
            await send({"type": "http.response.body", "body": b'{"predictions": [', "more_body": True})
            self.log.record(number, path, digest, 200, fault)
            raise _Dropped("connection dropped on purpose")
        if fault == "slow":
            await asyncio.sleep(self.faults.slow_s)
        status_seen = []

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        async def watch(message):
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
            await send(message)

        try:
            await self.app(scope, replay, watch)
        finally:  # also when the client gave up waiting (a slow answer) and the send failed
            self.log.record(number, path, digest, status_seen[0] if status_seen else 0, fault)
