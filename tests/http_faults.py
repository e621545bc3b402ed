"""A raw-socket HTTP/1.1 server on 127.0.0.1 that misbehaves in ways FastAPI cannot: for the HTTP limit tests.

``FaultServer(mode)`` listens on a free loopback port from a daemon thread (one thread per connection) and
answers every POST by ``mode``:

``ok``              ``{"predictions": [[1/C, ...], ...]}``, one row per record in the request
                    (``instances``, ``dataframe_split.data`` or a v2 tensor's first dimension)
``ok_then_silent``  ``ok`` for the first ``ok_requests`` requests, then ``silent``
``trickle_body``    a 200 with a ``Content-Length``, then one body byte every ``interval_s``
``trickle_headers`` the status line, then one header byte every ``interval_s``
``silent``          reads the request and never answers
``huge_length``     a ``Content-Length`` of 10 GB, then zeros
``huge_close``      no length (the body ends when the connection closes), zeros
``huge_chunked``    ``Transfer-Encoding: chunked``, chunks of zeros
``gzip_bomb``       a small gzip body (``Content-Encoding: gzip``) that inflates to ``huge_bytes``
``echo_<how>``      a valid answer plus the ``Authorization`` header it received, ``how`` in
                    ``raw``, ``lower``, ``upper``, ``url``, ``base64``
``echo_label``      labels, the first of which is the ``Authorization`` header it received
``malformed``       a 200 whose body is cut-off JSON
``wrong_shape``     one row too few
``html``            a 200 with an HTML page
``error_500``       a 500 with a short JSON error

Everything is bounded: a slow or huge answer stops after ``max_seconds`` or ``huge_bytes``, when the
client goes away, or when :meth:`stop` is called; leaving the ``with`` block stops the server.
``requests`` counts the requests received and ``answered`` the complete ``ok`` answers sent.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import zlib
from urllib.parse import quote

__all__ = ["FaultServer", "forbid_non_loopback"]

_REASONS = {200: "OK", 500: "Internal Server Error"}


class FaultServer:
    """See the module docstring."""

    def __init__(self, mode: str = "ok", *, n_classes: int = 2, interval_s: float = 0.05, max_seconds: float = 8.0,
                 huge_bytes: int = 8 * 1024 * 1024, ok_requests: int = 0) -> None:
        self.mode, self.n_classes, self.interval_s, self.max_seconds = mode, n_classes, interval_s, max_seconds
        self.huge_bytes, self.ok_requests = huge_bytes, ok_requests
        self.requests = self.answered = 0
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, name="fault-server", daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> "FaultServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    # -- one connection -----------------------------------------------------------------------
    def _connection(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        buffer = b""
        try:
            for _ in range(1000):  # requests on one kept-alive connection
                request, buffer = self._read_request(conn, buffer)
                if request is None:
                    return
                with self._lock:
                    self.requests += 1
                    number = self.requests
                if not self._answer(conn, number, *request):
                    return
        except OSError:
            return
        finally:
            conn.close()

    def _read_request(self, conn, buffer: bytes):
        started = time.monotonic()
        while b"\r\n\r\n" not in buffer:
            chunk = self._recv(conn, started)
            if not chunk:
                return None, b""
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = self._recv(conn, started)
            if not chunk:
                return None, b""
            rest += chunk
        return (headers, rest[:length]), rest[length:]

    def _recv(self, conn, started: float) -> bytes:
        while not self._stop.is_set() and time.monotonic() - started < self.max_seconds:
            try:
                return conn.recv(65536)
            except socket.timeout:
                continue
        return b""

    def _send(self, conn, data: bytes) -> None:
        conn.sendall(data)
        with self._lock:
            self.bytes_sent += len(data)

    def _sleep(self, started: float) -> bool:
        """Wait one interval; False once the server stops or ``max_seconds`` have passed."""
        return not self._stop.wait(self.interval_s) and time.monotonic() - started < self.max_seconds

    # -- answers ------------------------------------------------------------------------------
    def _n_records(self, body: bytes) -> int:
        try:
            document = json.loads(body)
        except ValueError:
            return 1
        if "instances" in document:
            return len(document["instances"])
        if "dataframe_split" in document:
            return len(document["dataframe_split"]["data"])
        if "inputs" in document:
            return int(document["inputs"][0]["shape"][0])
        return 1

    def _reply(self, conn, status: int, body: bytes, content_type: str = "application/json") -> bool:
        head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
        self._send(conn, head.encode() + body)
        return True

    def _answer(self, conn, number: int, headers: dict, body: bytes) -> bool:
        """Answer one request; False closes the connection."""
        mode, started = self.mode, time.monotonic()
        if mode == "ok_then_silent":
            mode = "ok" if number <= self.ok_requests else "silent"
        n = self._n_records(body)
        rows = [[1.0 / self.n_classes] * self.n_classes for _ in range(n)]
        if mode == "ok":
            self._reply(conn, 200, json.dumps({"predictions": rows}).encode())
            with self._lock:
                self.answered += 1
            return True
        if mode.startswith("echo_"):
            token = headers.get("authorization", "")
            if mode == "echo_label":
                labels = [token] + ["0"] * (n - 1)
                return self._reply(conn, 200, json.dumps({"predictions": labels}).encode())
            how = mode[len("echo_"):]
            echoed = {"raw": token, "lower": token.lower(), "upper": token.upper(), "url": quote(token, safe=""),
                      "base64": base64.b64encode(token.encode()).decode()}[how]
            return self._reply(conn, 200, json.dumps({"predictions": rows, "request": {"auth": echoed}}).encode())
        if mode == "malformed":
            return self._reply(conn, 200, b'{"predictions": [[0.5, 0.5], [0.5')
        if mode == "wrong_shape":
            return self._reply(conn, 200, json.dumps({"predictions": rows[:-1]}).encode())
        if mode == "html":
            return self._reply(conn, 200, b"<html><body>Login required</body></html>", "text/html")
        if mode == "error_500":
            return self._reply(conn, 500, b'{"error": "model crashed"}')
        if mode == "silent":
            while self._sleep(started):
                pass
            return False
        if mode == "trickle_headers":
            text = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-padding: " + b"a" * 10_000 + b"\r\ncontent-length: 2\r\n\r\n{}"
            for i in range(len(text)):
                self._send(conn, text[i:i + 1])
                if not self._sleep(started):
                    return False
            return False
        if mode == "trickle_body":
            payload = json.dumps({"predictions": rows}).encode() + b" " * 10_000
            self._send(conn, f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n".encode())
            for i in range(len(payload)):
                self._send(conn, payload[i:i + 1])
                if not self._sleep(started):
                    return False
            return False
        if mode == "gzip_bomb":  # a small compressed body that inflates to huge_bytes of zeros
            packer, block = zlib.compressobj(9, zlib.DEFLATED, 31), b"0" * (1024 * 1024)
            body = b"".join(packer.compress(block) for _ in range(max(1, self.huge_bytes // len(block)))) + packer.flush()
            head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {len(body)}\r\n\r\n"
            self._send(conn, head.encode() + body)
            return True
        if mode.startswith("huge_"):
            chunk = b"0" * 65536
            if mode == "huge_length":
                self._send(conn, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10000000000\r\n\r\n")
            elif mode == "huge_close":
                self._send(conn, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n")
            else:
                self._send(conn, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
                chunk = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            sent = 0
            while sent < self.huge_bytes and not self._stop.is_set() and time.monotonic() - started < self.max_seconds:
                self._send(conn, chunk)
                sent += len(chunk)
            return False
        raise ValueError(f"unknown mode {mode!r}")


def forbid_non_loopback(monkeypatch) -> None:
    """Make resolving or connecting to any host but this machine fail the test (a guard for code under test)."""
    import ipaddress
    import socket

    def is_loopback(host) -> bool:
        try:
            return host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.create_connection

    def getaddrinfo(host, *args, **kwargs):
        if not is_loopback(host):
            raise AssertionError(f"the test tried to resolve {host!r}, which is not loopback")
        return real_getaddrinfo(host, *args, **kwargs)

    def create_connection(address, *args, **kwargs):
        if not is_loopback(address[0]):
            raise AssertionError(f"the test tried to connect to {address!r}, which is not loopback")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
