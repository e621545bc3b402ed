"""The Ray backend's edges without a cluster: which addresses are probed, lost models and CPU-less clusters end in one line.

The same code on a real multi-node cluster (a node killed mid-run, a store only the driver sees) is in
``tests/test_ray_cluster.py``.
"""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

from privaudit.exceptions import ConfigError, TargetError
from privaudit.reference.ray_backend import SYSTEM_RETRIES, check_ray_reachable, wait_for_results
from privaudit.reference.worker import ModelTask


def _closed_port(host: str = "127.0.0.1", family=socket.AF_INET) -> int:
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]  # released on return: nothing listens there


@pytest.mark.parametrize("address", ["auto", "local", "head", "::1", "[::1]"])
def test_addresses_that_are_not_host_and_port_are_left_to_ray(address):
    check_ray_reachable(address.format(port=_closed_port()), timeout=1)  # nothing listens, yet no probe and no error


@pytest.mark.parametrize("address", ["127.0.0.1:{port}", "ray://127.0.0.1:{port}", "ray://127.0.0.1:{port}/", "[::1]:{port6}"])
def test_a_closed_port_is_refused_in_one_line(address):
    address = address.format(port=_closed_port(), port6=_closed_port("::1", socket.AF_INET6))
    with pytest.raises(ConfigError, match=r"no Ray cluster answers there \(connection refused\); start one with `ray start --head`") as refused:
        check_ray_reachable(address, timeout=1)
    assert f"'{address}'" in str(refused.value) and "\n" not in str(refused.value)


def _listen(reply):
    """A listener on 127.0.0.1 that hands each connection to ``reply`` in its own thread."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=reply, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return server


def _serve(answer: bytes | None):
    """A listener that answers each connection with ``answer`` once it has read something (None: stays silent)."""

    def reply(connection: socket.socket) -> None:
        with connection:
            connection.recv(64)
            if answer is not None:
                connection.sendall(answer)
            time.sleep(2)

    return _listen(reply)


@pytest.mark.parametrize(("answer", "passes"), [
    (bytes([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]), True),  # an HTTP/2 server's first frame: SETTINGS (as Ray's gRPC sends)
    (None, False),  # a silent listener: ray.init would wait for minutes
    (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", False),  # a web server
    (bytes([0, 0, 0, 1, 4, 0, 0, 0, 1]), False),  # HTTP/2 but not opening with SETTINGS
])
def test_the_probe_wants_an_http2_settings_frame(answer, passes):
    with _serve(answer) as server:
        address = f"127.0.0.1:{server.getsockname()[1]}"
        if passes:
            check_ray_reachable(address, timeout=1)
            check_ray_reachable(f"ray://{address}", timeout=1)
        else:
            with pytest.raises(ConfigError, match="something listens there but does not answer as a Ray cluster .no gRPC reply to the HTTP/2 preface within 1 s."):
                check_ray_reachable(address, timeout=1)


def test_with_tls_only_the_connection_is_checked(monkeypatch):
    monkeypatch.setenv("RAY_USE_TLS", "1")
    with _serve(None) as server:
        check_ray_reachable(f"127.0.0.1:{server.getsockname()[1]}", timeout=1)
    with pytest.raises(ConfigError, match="connection refused"):
        check_ray_reachable(f"127.0.0.1:{_closed_port()}", timeout=1)


class _FakeRay:
    """What :func:`wait_for_results` uses of ``ray``: ``wait``, ``get``, ``cluster_resources`` and the real ``exceptions``."""

    def __init__(self, outcomes: dict, cpus: float) -> None:
        import ray.exceptions

        self.exceptions, self.outcomes, self.cpus = ray.exceptions, outcomes, cpus

    def wait(self, refs, num_returns, timeout):
        ready = [ref for ref in refs if ref in self.outcomes][:num_returns]
        if not ready:
            time.sleep(timeout)
        return ready, [ref for ref in refs if ref not in ready]

    def get(self, ref):
        outcome = self.outcomes[ref]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def cluster_resources(self):
        return {"CPU": self.cpus} if self.cpus else {}


def _task(index: int) -> ModelTask:
    return ModelTask(index=index, key=f"k{index}", kind="train", seed=index, positions=np.arange(3), meta={})


def test_a_model_lost_beyond_its_reruns_is_one_line_and_an_application_error_passes_through():
    import ray.exceptions

    done = []
    fake = _FakeRay({"a": "result a", "b": ray.exceptions.NodeDiedError("node 1f2e is dead\nmore detail")}, cpus=1)
    with pytest.raises(TargetError) as lost:
        wait_for_results(fake, {"a": _task(0), "b": _task(3)}, done.append, poll_s=0.01)
    message = str(lost.value)
    assert done == ["result a"] and "\n" not in message
    assert message.startswith(f"reference model 3 was lost on the Ray cluster even after {SYSTEM_RETRIES} reruns (NodeDiedError: node 1f2e is dead)")

    cause = ray.exceptions.RayTaskError("_ray_task", "Traceback ...", ValueError("bad estimator")).as_instanceof_cause()
    with pytest.raises(ValueError) as raised:  # the training code's exception, not retried nor reworded
        wait_for_results(_FakeRay({"c": cause}, cpus=1), {"c": _task(1)}, done.append, poll_s=0.01)
    assert raised.value is cause and not isinstance(raised.value, TargetError)


def test_a_cluster_without_cpus_ends_the_wait_and_one_with_cpus_does_not():
    start = time.monotonic()
    with pytest.raises(TargetError, match=r"no CPU for 0.3 s while 2 reference model\(s\) wait \(1, 4\)"):
        wait_for_results(_FakeRay({}, cpus=0), {"a": _task(4), "b": _task(1)}, print, patience_s=0.3, poll_s=0.05)
    assert 0.3 <= time.monotonic() - start < 5

    fake, done = _FakeRay({}, cpus=2), []
    timer = threading.Timer(0.6, lambda: fake.outcomes.update(a="late result"))
    timer.start()
    wait_for_results(fake, {"a": _task(0)}, done.append, patience_s=0.3, poll_s=0.05)  # CPUs present: waits past the patience
    assert done == ["late result"]


def test_a_model_trained_twice_keeps_the_first_copy_and_leaves_no_litter(tmp_path):
    """A task rerun after its node died may find its model already published (by the lost attempt, in a shared store)
    or deliver it again as files (a store only the driver sees): both are accepted, and the store keeps one copy."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from privaudit.data import RecordSet
    from privaudit.reference import ReferenceStore, SklearnRecipe
    from privaudit.reference.store import STORE_FORMAT, records_digest
    from privaudit.reference.worker import run_task
    from privaudit.writer_temporaries import TMP_PREFIX

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    records = RecordSet(np.array([f"r{i:02d}" for i in range(40)]), pd.DataFrame(x, columns=list("abc")), (x[:, 0] > 0).astype(np.intp), (0, 1))
    recipe, store = SklearnRecipe(LogisticRegression()), ReferenceStore(tmp_path / "store")
    store.identity()
    key = store.model_key(recipe, records.ids, 11)
    task = ModelTask(index=0, key=key, kind="train", seed=11, positions=np.arange(40), meta={"format": STORE_FORMAT, "seed": 11})
    digest = records_digest(records)

    run_task(recipe, records, records, digest, task, store)  # the attempt lost with its node had published the model
    first = (store.root / key / "meta.json").stat()
    again = run_task(recipe, records, records, digest, task, store)  # the rerun, same shared store
    shipped = run_task(recipe, records, records, digest, task, None)  # the rerun on a worker without the store
    store.save_files(shipped.key, shipped.files)  # what the driver does with it
    assert again.files is None and shipped.files is not None
    assert [p.name for p in store.root.iterdir() if not p.name.startswith(".")] == [key]
    assert (store.root / key / "meta.json").stat().st_ino == first.st_ino  # the first copy was kept
    assert not list(store.root.rglob(f"{TMP_PREFIX}*"))
    outputs = store.load_outputs(key, digest, (40, 2))
    assert np.array_equal(outputs, np.load(next((store.root / key).glob("outputs-*.npy"))))
    store.verify_model(key)


@pytest.mark.parametrize("address, message", [
    ("http://127.0.0.1:8265", r"the scheme 'http://' is not a Ray cluster address; give the head's GCS address host:6379"),
    ("127.0.0.1:abc", r"'127.0.0.1:abc': the port 'abc' is not a number from 1 to 65535"),
    ("ray://127.0.0.1:notaport", r"the port 'notaport' is not a number"),
    ("[::1]:x", r"the port 'x' is not a number"),
    ("127.0.0.1:99999", r"the port '99999' is not a number from 1 to 65535"),
    ("ray://alice:s3cr3tTOKEN@127.0.0.1:10001", r"'ray://\*\*\*@127.0.0.1:10001': Ray addresses carry no user name or password"),
    ("alice:s3cr3tTOKEN@127.0.0.1:6379", r"'\*\*\*@127.0.0.1:6379': Ray addresses carry no user name or password"),
])
def test_malformed_addresses_are_one_line_before_any_connection(address, message, monkeypatch):
    def no_connection(*args, **kwargs):
        raise AssertionError("the probe must not connect to a malformed address")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    with pytest.raises(ConfigError, match=message) as refused:
        check_ray_reachable(address, timeout=1)
    assert "s3cr3tTOKEN" not in str(refused.value) and "\n" not in str(refused.value)


def test_a_config_address_with_a_token_is_refused_without_printing_it():
    from privaudit.trust import check_ray_address

    with pytest.raises(ConfigError) as refused:
        check_ray_address("ray://alice:s3cr3tTOKEN@127.0.0.1:10001", "audit.yaml: compute.ray_address", trust_code=False)
    assert "s3cr3tTOKEN" not in str(refused.value) and "ray://***@127.0.0.1:10001" in str(refused.value)


def _serve_http2_forever():
    """A listener that opens every connection with an HTTP/2 SETTINGS frame and then reads forever: it passes the preface
    probe, yet it is no Ray cluster (ray.init against it blocks in Ray's C++ client, deaf to Python signals)."""

    def reply(connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)
                connection.sendall(bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
                while connection.recv(65536):
                    pass
            except OSError:
                return

    return _listen(reply)


@pytest.mark.slow
def test_an_http2_server_that_is_not_ray_ends_in_one_line_within_the_deadline():
    """Review of issue 17: such a server made `ray.init` hang past 100 s. The driver connection is tried in a child process
    killed at the deadline: one ConfigError line, the address's credentials masked, and no Ray process left behind."""
    from privaudit.reference.ray_backend import check_ray_accepts_driver

    with _serve_http2_forever() as server:
        address = f"127.0.0.1:{server.getsockname()[1]}"
        check_ray_reachable(address, timeout=1)  # the preface probe alone is fooled
        started = time.monotonic()
        with pytest.raises(ConfigError) as refused:
            check_ray_accepts_driver(address, deadline=8)
        assert time.monotonic() - started < 30
        message = str(refused.value)
        assert "\n" not in message and "no Ray cluster accepted a driver there within 8 s" in message and address in message
    # a child that fails (ray:// needs ray[client], or nothing listens) is one line too, and never shows the token
    with pytest.raises(ConfigError) as failed:
        check_ray_accepts_driver(f"ray://alice:s3cret@127.0.0.1:{_closed_port()}", deadline=60)
    assert "\n" not in str(failed.value) and "s3cret" not in str(failed.value) and "cannot connect to a Ray cluster there" in str(failed.value)
