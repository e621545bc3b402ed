"""Sending one request with an overall deadline, a size cap and a stop switch (httpx and httpcore, imported lazily).

httpx's ``timeout`` bounds each network operation, so a server that sends one
byte a second never times out. Here every request runs under a
:class:`RequestLimits` set for the calling thread:

* **deadline** — one wall-clock limit for the whole request: resolving the host, connecting, TLS,
  sending the body and every read of the headers and the body. It is enforced
  below httpx, in a wrapper around httpcore's network backend
  (:class:`DeadlineBackend`): each connect and write gets at most the time left,
  each read waits in slices of at most :data:`POLL_S` seconds and checks the
  deadline and the stop switch between slices. A trickling server therefore
  fails at the deadline (plus at most one slice), whether it trickles the
  headers or the body.
* **stop switch** — a :class:`threading.Event`; once set (Ctrl-C, another
  batch failed), a read in progress ends within :data:`POLL_S` seconds with
  :class:`Stopped`, so no worker thread keeps the process alive.
* **size cap** — ``max_bytes`` of decoded body: a ``Content-Length`` above it
  is refused before the body is read, and the body is counted while it streams
  (chunked or without a length), so a huge answer never sits in memory.

A request therefore lasts at most ``timeout_s`` (+ :data:`POLL_S`), and one
batch at most ``(retries + 1) · timeout_s`` plus the backoff waits.

The transport is built explicitly (:func:`make_client`), with the proxy the environment names
(``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``); a loopback host never goes through one.
Name resolution runs in a helper thread under the same deadline and stop switch.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass

from privaudit.exceptions import require
from privaudit.redaction import redact_url

__all__ = [
    "POLL_S", "DEFAULT_MAX_RESPONSE_BYTES", "RequestLimits", "Answer", "DeadlineExceeded", "ResponseTooLarge", "Stopped",
    "DeadlineBackend", "environment_proxy", "make_client", "post", "is_loopback", "redact_httpx_logs", "retry_after_seconds",
]

#: Longest single wait on the network between two checks of the deadline and the stop switch (seconds).
POLL_S = 0.2
#: Default cap on one answer's decoded body (bytes): 64 MiB.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: Bytes of a non-2xx answer read for the error message.
ERROR_BODY_BYTES = 4096


class DeadlineExceeded(Exception):
    """The request's overall deadline passed (connect, send and all reads together)."""


class ResponseTooLarge(Exception):
    """The answer is larger than the size cap; ``size`` bytes were announced (``declared``) or received."""

    def __init__(self, size: int, declared: bool) -> None:
        super().__init__(f"{size} bytes")
        self.size, self.declared = size, declared


class Stopped(Exception):
    """The stop switch was set while the request was in flight."""


@dataclass
class RequestLimits:
    """The deadline (``time.monotonic()`` seconds) and stop switch of the request the current thread is sending."""

    deadline: float
    stop: threading.Event

    def left(self) -> float:
        """Seconds left; raises :class:`Stopped` or :class:`DeadlineExceeded` when there are none."""
        if self.stop.is_set():
            raise Stopped()
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded()
        return left


_current = threading.local()


def _limits() -> RequestLimits | None:
    return getattr(_current, "limits", None)


def _clamp(timeout: float | None) -> float | None:
    limits = _limits()
    if limits is None:
        return timeout
    left = limits.left()
    return left if timeout is None else min(timeout, left)


def _resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host`` (itself if it is one), looked up in a helper thread so that the deadline and the stop switch bound the wait."""
    import socket

    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    found: list = []
    done = threading.Event()

    def look_up() -> None:
        try:
            found.extend(info[4][0] for info in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            found.append(exc)
        finally:
            done.set()

    threading.Thread(target=look_up, name="privaudit-dns", daemon=True).start()  # left behind, harmlessly, if the wait ends first
    limits = _limits()
    while not done.wait(min(limits.left(), POLL_S)):
        pass
    if found and isinstance(found[0], Exception):
        httpcore = require("httpcore", "http")
        raise httpcore.ConnectError(f"cannot resolve {host}: {found[0]}")
    return list(dict.fromkeys(found))


class _DeadlineStream:
    """A httpcore network stream whose operations obey the thread's :class:`RequestLimits`."""

    def __init__(self, inner, httpcore) -> None:
        self._inner, self._httpcore = inner, httpcore

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        limits = _limits()
        if limits is None:
            return self._inner.read(max_bytes, timeout)
        own_end = None if timeout is None else time.monotonic() + timeout
        while True:
            left = limits.left()  # raises Stopped / DeadlineExceeded
            if own_end is not None:
                left = min(left, own_end - time.monotonic())
                if left <= 0:
                    raise self._httpcore.ReadTimeout("timed out")
            try:  # a timed-out recv consumes nothing, so waiting again is safe (plain and TLS sockets)
                return self._inner.read(max_bytes, min(left, POLL_S))
            except self._httpcore.ReadTimeout:
                continue

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout)), self._httpcore)

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class DeadlineBackend:
    """A httpcore network backend around ``inner`` whose connects and streams obey the thread's :class:`RequestLimits`."""

    def __init__(self, inner, httpcore) -> None:
        self._inner, self._httpcore = inner, httpcore

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        if _limits() is None:
            return _DeadlineStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options), self._httpcore)
        error = None
        for address in _resolve(host, port):  # each address in turn, as socket.create_connection does
            try:
                stream = self._inner.connect_tcp(address, port, timeout=_clamp(timeout), local_address=local_address, socket_options=socket_options)
            except self._httpcore.ConnectError as exc:
                error = exc
                continue
            return _DeadlineStream(stream, self._httpcore)
        raise error if error is not None else self._httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover - not used by HTTP targets
        return _DeadlineStream(self._inner.connect_unix_socket(path, timeout=_clamp(timeout), socket_options=socket_options), self._httpcore)

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore's retries are off
        self._inner.sleep(seconds)


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, minus ``NO_PROXY``), as httpx would use it.

    A loopback host never goes through a proxy (a proxy cannot reach this machine's own ports).
    """
    import urllib.request
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if is_loopback(host) or urllib.request.proxy_bypass_environment(host):
        return None
    proxies = urllib.request.getproxies_environment()
    return proxies.get(urlsplit(url).scheme) or proxies.get("all")


def make_client(*, url: str, workers: int, headers: dict[str, str], timeout_s: float):
    """A ``httpx.Client`` for ``url`` whose connections go through :class:`DeadlineBackend` (``workers`` connections at most).

    The transport is built here (httpx's own would skip the deadline), with the proxy the environment names
    for ``url`` (:func:`environment_proxy`), as a default client would use it.
    """
    httpx = require("httpx", "http")
    httpcore = require("httpcore", "http")
    proxy = environment_proxy(url)
    try:
        transport = httpx.HTTPTransport(limits=httpx.Limits(max_connections=workers, max_keepalive_connections=workers), proxy=proxy)
    except ImportError as exc:  # a socks:// proxy without socksio
        from privaudit.exceptions import MissingDependencyError

        raise MissingDependencyError(f"the proxy {redact_url(proxy)} named in the environment needs '{exc.name}': pip install 'httpx[socks]'") from None
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.ConnectionPool) or not hasattr(pool, "_network_backend"):  # pragma: no cover - a future httpx
        from privaudit.exceptions import MissingDependencyError

        raise MissingDependencyError(f"httpx {httpx.__version__} builds its transport differently; install a version privaudit supports: pip install 'httpx>=0.27,<1'")
    pool._network_backend = DeadlineBackend(pool._network_backend, httpcore)
    redact_httpx_logs()
    return httpx.Client(transport=transport, timeout=httpx.Timeout(timeout_s), headers=headers)


@dataclass
class Answer:
    """A received answer: status, reason, headers and the decoded body (complete for 2xx, the first bytes otherwise)."""

    status: int
    reason: str
    headers: object
    content: bytes


def post(client, url: str, body: bytes, *, timeout_s: float, max_bytes: int, stop: threading.Event) -> Answer:
    """POST ``body`` (JSON) to ``url`` within ``timeout_s`` seconds in all, reading at most ``max_bytes`` of answer.

    Raises :class:`DeadlineExceeded`, :class:`ResponseTooLarge`, :class:`Stopped`, or httpx's transport errors.
    """
    _current.limits = RequestLimits(time.monotonic() + timeout_s, stop)
    try:
        with client.stream("POST", url, content=body, headers={"Content-Type": "application/json"}) as response:
            ok = 200 <= response.status_code < 300
            length = response.headers.get("content-length", "")
            if ok and length.strip().isdigit() and int(length) > max_bytes:
                raise ResponseTooLarge(int(length), declared=True)
            limit = max_bytes if ok else ERROR_BODY_BYTES
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    if ok:
                        raise ResponseTooLarge(size, declared=False)
                    chunks.append(chunk[: limit - size + len(chunk)])
                    break
                chunks.append(chunk)
            return Answer(response.status_code, response.reason_phrase, response.headers, b"".join(chunks))
    finally:
        _current.limits = None


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine: ``localhost``, 127.0.0.0/8 or ``::1`` (names are not resolved).

    >>> is_loopback("127.0.0.2"), is_loopback("localhost"), is_loopback("::1"), is_loopback("api.example.com")
    (True, True, True, False)
    """
    if not host:
        return False
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _RedactURLs(logging.Filter):
    """Rewrites httpx's ``HTTP Request: POST <url> ...`` log lines with the URL redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact_url(str(arg)) if "://" in str(arg) else arg for arg in record.args)
        return True


def redact_httpx_logs() -> None:
    """Install (once) a filter on the ``httpx`` logger so that its lines never show user-info or query values."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactURLs) for f in logger.filters):
        logger.addFilter(_RedactURLs())


def retry_after_seconds(value: str | None, now=None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or an HTTP date); ``None`` if absent or unreadable.

    >>> retry_after_seconds("2"), retry_after_seconds(None), retry_after_seconds("soon")
    (2.0, None, None)
    """
    import email.utils
    import math
    from datetime import datetime, timezone

    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None
