"""Running an ASGI app on a local port: in a background thread (:class:`RunningServer`) or in the foreground.

uvicorn is imported only when a server is made (extra ``privaudit[serve]``).
"""

from __future__ import annotations

import socket
import threading
import time

from privaudit.exceptions import ConfigError, require

__all__ = ["RunningServer", "bind_socket", "uvicorn_server"]


def bind_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port") from None
    sock.listen(128)
    return sock


def uvicorn_server(app, log_level: str):
    uvicorn = require("uvicorn", "serve")
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", access_log=log_level in ("info", "debug"), timeout_graceful_shutdown=2)
    return uvicorn.Server(config)


class RunningServer:
    """Serve an ASGI ``app`` on ``host`` (a free port by default) from a background thread; a context manager.

    ``url`` is ``http://host:port``; :meth:`stop` (or leaving the ``with`` block) shuts it down and joins the thread.
    """

    def __init__(self, app, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "critical") -> None:
        self.app = app
        self._socket = bind_socket(host, port)
        self.host, self.port = host, self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._server = uvicorn_server(app, log_level)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, name="privaudit-serve", daemon=True)

    def start(self, timeout_s: float = 20.0) -> "RunningServer":
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server at {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> "RunningServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
