"""Reference models as Ray tasks (extra ``privaudit[ray]``; ``ray`` is imported only here).

Each model is one ``ray.remote(num_cpus=1)`` task. Without a running Ray
session, ``ray.init()`` starts a local one (``num_cpus=n_jobs``) or connects to
the cluster at ``ray_address`` (e.g. ``"ray://head:10001"``, ``"head:6379"`` or
``"auto"``); a session started here is shut down at the end, one already running
is left alone. An address of the form ``host:port`` (or ``ray://host:port``) is
probed first with one TCP connection and the HTTP/2 preface gRPC speaks
(:func:`check_ray_reachable`, :data:`CONNECT_TIMEOUT_S`), because ``ray.init``
keeps retrying an address no Ray answers at for many minutes: a closed port,
an unknown host or a port where something else listens is a one-line
:class:`ConfigError` instead. A server that does speak HTTP/2 but is no Ray
cluster passes that probe, and ``ray.init`` would then block in Ray's C++
client with no deadline; so the connection is first tried in a child process
(``ray.init`` and ``ray.shutdown``) killed after :data:`INIT_DEADLINE_S`
seconds: a cluster that does not accept a driver by then is one line too.

Storage: a task writes its model straight into the store when it sees the same
store folder as the driver (a shared filesystem, always true on one machine;
checked by the store's id file, not assumed). Otherwise it returns the model's
files and outputs as bytes and the driver writes them, atomically as usual —
so a cluster without a shared filesystem works too, at the price of moving
each model through Ray's object store and losing in-flight models with the
driver. Workers must be able to ``import privaudit`` (and the recipe's
factory module) in the same versions as the driver.

Lost nodes: a task whose worker process or node dies (a node killed, its
machine lost, the worker process crashed) is rerun elsewhere, up to
:data:`SYSTEM_RETRIES` times (``max_retries``; a worker Ray's own memory
monitor kills follows Ray's ``task_oom_retries`` setting), and so is a
finished task whose result object was lost with its node (Ray's lineage
reconstruction). An exception raised by the training code itself is never
retried (``retry_exceptions=False``): it reaches the driver at once. A model
can therefore be trained twice — the first attempt may have written it into a
shared store just before its node died. That is safe: a model's content key
fixes its recipe, records and seed, so both attempts produce the same files
(when training is deterministic given the seed), and the store publishes a
model with one atomic rename, keeping the first copy when a second writer
arrives (:meth:`ReferenceStore.save_model`); the driver receives one result
per model either way. Temporary folders a dead node left behind are removed
by the next run's :meth:`ReferenceStore.clean_temporary`. A model lost more
often than that (or a result Ray cannot recover) ends the run with one line
naming the model and Ray's error; and when the cluster has had no CPU for
:data:`NO_CPU_PATIENCE_S` seconds while models wait (every worker node gone —
Ray itself would wait forever), so does the run. Models finished by then are
in the store, so a rerun trains only the rest.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time

from privaudit.exceptions import ConfigError, TargetError, require
from privaudit.redaction import redact_address
from privaudit.reference.store import ReferenceStore
from privaudit.reference.worker import ModelTask, TaskResult, limit_threads, run_task

__all__ = ["run_on_ray", "check_ray_reachable", "check_ray_accepts_driver", "wait_for_results", "SYSTEM_RETRIES", "CONNECT_TIMEOUT_S",
           "INIT_DEADLINE_S", "NO_CPU_PATIENCE_S"]

#: reruns of a task whose worker or node died (never of one whose training code raised)
SYSTEM_RETRIES = 3
#: seconds to wait for the TCP handshake with a cluster address before calling it unreachable
CONNECT_TIMEOUT_S = 10.0
_HTTP2_SETTINGS = 0x04  # frame type of an HTTP/2 SETTINGS frame
#: the HTTP/2 client connection preface followed by an empty SETTINGS frame (RFC 9113, section 3.4)
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, _HTTP2_SETTINGS, 0, 0, 0, 0, 0])
#: seconds a child process may take to connect to the cluster as a driver before the address is called no Ray cluster
INIT_DEADLINE_S = 90.0
#: seconds models may wait on a cluster without any CPU (all worker nodes lost) before the run gives up
NO_CPU_PATIENCE_S = 120.0


def _ray_task(recipe, pool, query, query_digest: str, task: ModelTask, store_root: str, store_identity: str) -> TaskResult:
    limit_threads()
    store = ReferenceStore(store_root)
    return run_task(recipe, pool, query, query_digest, task, store if store.sees(store_identity) else None)


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``host:port`` or ``ray://host:port`` (IPv6 in brackets); None for ``auto`` and other forms."""
    rest = address.strip()
    if "://" in rest:
        scheme, _, rest = rest.partition("://")
        if scheme != "ray":
            return None
    host, colon, port = rest.rstrip("/").rpartition(":")
    if not colon or not port.isdigit() or not host or (":" in host and not host.startswith("[")):  # a bare IPv6 address has no port
        return None
    return host.strip("[]"), int(port)


def _refuse_malformed(address: str) -> None:
    """One-line :class:`ConfigError` for an address Ray would reject with a traceback (or misread): a scheme other
    than ``ray://``, credentials, a port that is not a number in 1–65535."""
    where = f"--ray-address / compute.ray_address '{redact_address(address)}'"
    text = address.strip()
    scheme, sep, rest = text.partition("://")
    if sep and scheme != "ray":
        raise ConfigError(f"{where}: the scheme '{scheme}://' is not a Ray cluster address; give the head's GCS address host:6379 "
                          "(or ray://host:10001 with `pip install 'ray[client]'`), not a dashboard or job-server URL")
    rest = rest if sep else text
    if "@" in rest.partition("/")[0]:
        raise ConfigError(f"{where}: Ray addresses carry no user name or password; remove the part before '@' "
                          "(Ray authenticates with its own settings, e.g. RAY_USE_TLS)")
    rest = rest.rstrip("/")
    if rest.startswith("["):  # [IPv6]:port
        port = rest.partition("]:")[2] if "]:" in rest else None
    else:  # host:port; a bare IPv6 address (several colons) or a name alone is left to Ray
        port = rest.partition(":")[2] if rest.count(":") == 1 else None
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{where}: the port '{port}' is not a number from 1 to 65535; give host:port, e.g. 127.0.0.1:6379")


def _first_frame_header(connection: socket.socket) -> bytes:
    """Send the HTTP/2 client preface and an empty SETTINGS frame; return up to the 9 header bytes of the server's first frame."""
    connection.sendall(_HTTP2_PREFACE)
    header = b""
    while len(header) < 9:
        chunk = connection.recv(9 - len(header))
        if not chunk:
            break
        header += chunk
    return header


def check_ray_reachable(address: str, *, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`ConfigError` unless a gRPC server (Ray's GCS or Ray Client server) answers at ``address`` within ``timeout`` s.

    The check opens one TCP connection and sends the HTTP/2 connection preface: every HTTP/2 server's
    first frame in reply is a SETTINGS frame (RFC 9113, section 3.4), which a closed port, a silent
    listener or a web server does not send. With ``RAY_USE_TLS`` set the reply is a TLS handshake
    instead, so only the TCP connection is checked. Addresses that are not ``host:port``
    (``"auto"``, ``"local"``) are left to Ray.
    """
    _refuse_malformed(address)
    target = _host_port(address)
    if target is None:
        return
    where = f"--ray-address / compute.ray_address '{redact_address(address)}'"
    hint = "start one with `ray start --head` and give its address, or leave the address out to start a local Ray instance"
    tls = os.environ.get("RAY_USE_TLS", "0").strip().lower() not in ("", "0", "false", "no")
    try:
        connection = socket.create_connection(target, timeout=timeout)
    except OSError as exc:
        reason = f"no answer within {timeout:g} s" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__).lower()
        raise ConfigError(f"{where}: no Ray cluster answers there ({reason}); {hint}") from None
    with connection:
        if tls:
            return
        try:
            connection.settimeout(timeout)
            header = _first_frame_header(connection)
        except OSError:
            header = b""
    if len(header) < 9 or header[3] != _HTTP2_SETTINGS:
        raise ConfigError(f"{where}: something listens there but does not answer as a Ray cluster (no gRPC reply to the HTTP/2 preface "
                          f"within {timeout:g} s); {hint}")


#: the address travels in the environment, not on the command line other users' ``ps`` shows
_INIT_PROBE = ("import os, ray; ray.init(address=os.environ.pop('PRIVAUDIT_RAY_PROBE_ADDRESS'), include_dashboard=False, "
               "log_to_driver=False); ray.shutdown()")


def check_ray_accepts_driver(address: str, *, deadline: float = INIT_DEADLINE_S) -> None:
    """Connect to ``address`` as a Ray driver in a child process killed after ``deadline`` seconds.

    ``ray.init`` against a server that speaks HTTP/2 but is not a Ray cluster blocks in Ray's C++ client and
    ignores Python signals, so the attempt runs where it can be killed. Raises :class:`ConfigError` (one line,
    the address's credentials masked) when the child fails or runs out of time.
    """
    import subprocess
    import sys

    where = f"--ray-address / compute.ray_address '{redact_address(address)}'"
    try:
        done = subprocess.run([sys.executable, "-c", _INIT_PROBE], capture_output=True, text=True, timeout=deadline,
                              stdin=subprocess.DEVNULL, env={**os.environ, "PRIVAUDIT_RAY_PROBE_ADDRESS": address})
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{where}: no Ray cluster accepted a driver there within {deadline:g} s (something answers at that "
                          "address, but not as Ray's GCS); give the head node's GCS address (`ray start --head` prints it)") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {done.returncode}"
        secret = address.strip().rpartition("://")[2].partition("/")[0].rpartition("@")[0]
        last = last.replace(secret, "***") if secret else last
        raise ConfigError(f"{where}: cannot connect to a Ray cluster there ({last[:300]})")


def _connect(ray, ray_address, n_jobs) -> None:
    if not ray_address:
        ray.init(num_cpus=n_jobs, include_dashboard=False)
        return
    check_ray_reachable(ray_address)
    check_ray_accepts_driver(ray_address)
    try:
        ray.init(address=ray_address, include_dashboard=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:  # ValueError: an address Ray cannot parse, or ray:// without ray[client]
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"--ray-address / compute.ray_address '{redact_address(ray_address)}': cannot connect to a Ray cluster there ({first})") from None


def _result(ray, ref, task: ModelTask) -> TaskResult:
    """``ray.get(ref)``; a system failure Ray could not recover from becomes one :class:`TargetError` line."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError:
        raise  # the training code's own exception (Ray makes it an instance of that exception's class too)
    except ray.exceptions.RayError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise TargetError(
            f"reference model {task.index} was lost on the Ray cluster even after {SYSTEM_RETRIES} reruns "
            f"({type(exc).__name__}{': ' + first if first else ''}); check the cluster's nodes (`ray status`) and rerun: "
            "models already finished are kept in the store"
        ) from None


def wait_for_results(ray, pending: dict, on_done, *, patience_s: float = NO_CPU_PATIENCE_S, poll_s: float = 5.0) -> None:
    """Call ``on_done(result)`` as each of ``pending`` (``{ObjectRef: ModelTask}``) finishes, emptying it.

    Raises :class:`TargetError` when the cluster has had no CPU for ``patience_s`` seconds while
    tasks still wait (Ray would wait forever for a node to come back).
    """
    without_cpu_since = None
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1, timeout=poll_s)
        for ref in done:
            on_done(_result(ray, ref, pending.pop(ref)))
        if done:
            without_cpu_since = None
            continue
        if float(ray.cluster_resources().get("CPU", 0.0)) > 0:
            without_cpu_since = None
        elif without_cpu_since is None:
            without_cpu_since = time.monotonic()
        elif time.monotonic() - without_cpu_since >= patience_s:
            waiting = sorted(task.index for task in pending.values())
            raise TargetError(
                f"the Ray cluster has had no CPU for {patience_s:g} s while {len(waiting)} reference model(s) wait "
                f"({', '.join(map(str, waiting[:10]))}{', ...' if len(waiting) > 10 else ''}): its worker nodes are gone; "
                "add nodes (`ray start --address ...`) and rerun: models already finished are kept in the store"
            )


def run_on_ray(recipe, pool, query, query_digest: str, tasks: list[ModelTask], store: ReferenceStore, *, n_jobs=None, ray_address=None, on_done) -> None:
    """Run ``tasks`` as Ray tasks; ``on_done(result)`` in the driver as each finishes (see the module docstring)."""
    if not tasks:
        return
    ray = require("ray", "ray")
    started = not ray.is_initialized()
    if started:
        _connect(ray, ray_address, n_jobs)
    pending: dict = {}
    try:
        identity = store.identity()
        remote = ray.remote(num_cpus=1, max_retries=SYSTEM_RETRIES, retry_exceptions=False)(_ray_task)
        shared = [ray.put(recipe), ray.put(pool), ray.put(query)]
        for task in tasks:
            if task.kind == "query":  # the worker may not see the store (a remote cluster): ship the stored model
                task = dataclasses.replace(task, files=store.read_model_files(task.key))
            pending[remote.remote(*shared, query_digest, task, str(store.root), identity)] = task
        wait_for_results(ray, pending, on_done)
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()
