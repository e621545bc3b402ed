"""Reference training on a real multi-node Ray cluster on loopback, submitted through ``privaudit audit --ray-address``.

The fixtures start their own cluster with ``ray start``: a head node (``--num-cpus 0``, so every task runs
elsewhere) and worker nodes with ``--num-cpus 1``, each ``ray start --block`` in its own session, so one node
can be killed alone (``SIGKILL`` to its process group) and nothing else on the machine is touched (never
``ray stop``). The nodes listen on 127.0.0.2: Ray rewrites ``--node-ip-address 127.0.0.1`` into the host's
network address, but leaves the rest of 127.0.0.0/8 (all loopback on Linux) alone. For the store only the driver
sees, the worker nodes start inside a private mount namespace (``unshare --mount``, in a user namespace when not
root) with an empty tmpfs over a ``driver-only`` folder: a store there is genuinely invisible to the workers, as on
a cluster without a shared filesystem. Each cluster writes its session
ids to the file ``$PRIVAUDIT_RAY_PIDS`` names (``.ci/run`` kills what a crashed session left), and the fixtures
check that no process of theirs survives.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import privaudit

from audit_folders import FEATURES, tree_config, write_split_records  # noqa: E402  (tests/ helper)
SRC = Path(privaudit.__file__).resolve().parents[1]  # the checkout under test, whatever the venv's install points at
RAY = Path(sys.executable).with_name("ray")
HOST = "127.0.0.2"  # loopback that Ray does not rewrite (see the module docstring)
N_MODELS = 6


# -- processes, by session --------------------------------------------------------------------------------
def _session_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    except (OSError, IndexError, ValueError):
        return None


def _session_processes(session: int) -> list[int]:
    """Live (not zombie) processes of session ``session``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _session_of(int(entry)) == session:
            try:
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                found.append(int(entry))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _record_session(session: int, *, add: bool) -> None:
    """Add (or, once stopped, remove) a node's session id in the file ``$PRIVAUDIT_RAY_PIDS`` names: ``.ci/run`` kills
    the process groups still listed there when the test session ends, whatever happened to it."""
    pid_file = os.environ.get("PRIVAUDIT_RAY_PIDS")
    if not pid_file:
        return
    path = Path(pid_file)
    listed = [line for line in (path.read_text().split() if path.is_file() else []) if line != str(session)]
    path.write_text("".join(f"{line}\n" for line in [*listed, *([str(session)] if add else [])]))


def _mount_namespace_prefix() -> list[str]:
    """``unshare`` arguments for a private mount namespace: as root directly, otherwise inside a user namespace."""
    if shutil.which("unshare") is None:
        raise RuntimeError("these tests need util-linux's `unshare` (Debian package util-linux) for a store the workers cannot see")
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--mount", "--propagation", "private", "--"]


class Node:
    def __init__(self, process: subprocess.Popen, log: Path, name: str) -> None:
        self.process, self.log, self.name = process, log, name

    @property
    def session(self) -> int:
        return self.process.pid  # started with start_new_session=True: the session (and group) leader

    def processes(self) -> list[int]:
        return _session_processes(self.session)

    def running_tasks(self) -> list[int]:
        """Ray worker processes of this node executing a reference-model task right now (Ray's process title)."""
        return [pid for pid in self.processes() if _cmdline(pid).startswith("ray::_ray_task")]

    def kill(self) -> None:
        """SIGKILL every process of this node (its group at once, then any straggler of its session) and wait until none is left."""
        deadline = time.monotonic() + 30
        try:
            os.killpg(self.session, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while (left := self.processes()) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        self.process.wait(timeout=30)


class LoopbackCluster:
    """A Ray head and worker nodes on loopback, each ``ray start --block`` in its own session (see the module docstring)."""

    def __init__(self, root: Path, hidden: Path) -> None:
        self.root, self.hidden = root, hidden
        self.temp_dir = Path(tempfile.mkdtemp(prefix="prc-", dir="/tmp"))  # short: Ray's socket paths must stay < 108 bytes
        self.port = _free_port()
        self.address = f"{HOST}:{self.port}"
        self.nodes: list[Node] = []
        self.env = {
            **os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]),
            "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),  # the cluster's own token; nothing in ~/.ray
            "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1",
        }
        self.env.pop("RAY_ADDRESS", None)

    def _start(self, name: str, args: list[str], prefix: list[str]) -> Node:
        log = self.root / f"{name}.log"
        common = ["--block", "--node-ip-address", HOST, "--object-store-memory", str(200 * 2**20), "--disable-usage-stats",
                  "--dashboard-agent-listen-port", str(_free_port()), "--metrics-export-port", str(_free_port())]
        with open(log, "wb") as out:
            process = subprocess.Popen([*prefix, str(RAY), "start", *args, *common], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        node = Node(process, log, name)
        self.nodes.append(node)
        _record_session(process.pid, add=True)
        deadline = time.monotonic() + 120
        while b"will now block" not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray node {name} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        return node

    def start_head(self) -> Node:
        return self._start("head", ["--head", "--port", str(self.port), "--num-cpus", "0", "--include-dashboard", "false",
                                    "--temp-dir", str(self.temp_dir)], [])

    def add_worker(self, name: str, *, hide: bool) -> Node:
        """A node with one CPU; with ``hide``, in its own mount namespace where ``self.hidden`` is an empty tmpfs."""
        prefix = [*_mount_namespace_prefix(), "sh", "-c", 'mount -t tmpfs -o size=1m privaudit-hidden "$0" && exec "$@"', str(self.hidden)] if hide else []
        return self._start(name, ["--address", self.address, "--num-cpus", "1"], prefix)

    def stop(self) -> None:
        """SIGTERM each ``ray start --block`` (it stops its node's processes), SIGKILL whatever is left after 5 s; no Ray process survives."""
        for node in self.nodes:
            if node.process.poll() is None:
                node.process.terminate()
        deadline = time.monotonic() + 5
        while any(node.processes() for node in self.nodes) and time.monotonic() < deadline:
            time.sleep(0.2)
        for node in self.nodes:
            node.kill()
            _record_session(node.session, add=False)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.fixture
def make_cluster(tmp_path):
    clusters: list[LoopbackCluster] = []

    def make(workers: int, *, hide: bool = False) -> LoopbackCluster:
        hidden = tmp_path / "driver-only"
        hidden.mkdir(exist_ok=True)
        cluster = LoopbackCluster(tmp_path, hidden)
        clusters.append(cluster)
        cluster.start_head()
        for k in range(workers):
            cluster.add_worker(f"worker{k + 1}", hide=hide)
        return cluster

    yield make
    for cluster in clusters:
        cluster.stop()
        survivors = [(pid, _cmdline(pid)) for node in cluster.nodes for pid in node.processes()]
        assert not survivors, f"Ray processes survived the cluster's stop: {survivors}"


# -- the audit ----------------------------------------------------------------------------------------------
def _write_audit(folder: Path, n_estimators: int) -> Path:
    """Records, a gradient-boosted target (``n_estimators`` sets how long each reference model trains) and its config."""
    import skops.io as sio
    from sklearn.ensemble import GradientBoostingClassifier

    folder.mkdir(parents=True, exist_ok=True)
    members = write_split_records(folder, 150)
    model = GradientBoostingClassifier(n_estimators=n_estimators, max_depth=3, random_state=0).fit(members[FEATURES], members.label)
    sio.dump(model, folder / "target.skops")
    config = tree_config({"name": "boost", "path": "target.skops"})
    (folder / "audit.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder / "audit.yaml"


def run_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    environment = {**(env or os.environ), "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "privaudit.cli", *args], capture_output=True, text=True, timeout=timeout, env=environment)


def _stored_outputs(store: Path) -> dict[str, np.ndarray]:
    """Every model's outputs in a store: ``{key: array}`` (each model holds one outputs file here)."""
    found = {}
    for model in store.iterdir():
        if (model / "meta.json").is_file():
            (array,) = sorted(model.glob("outputs-*.npy"))
            found[model.name] = np.load(array, allow_pickle=False)
    return found


def _all_outputs(store: Path) -> dict[tuple[str, str], np.ndarray]:
    """Every outputs array in a store: ``{(key, "outputs-<query digest>"): array}``."""
    return {(model.name, array.stem): np.load(array, allow_pickle=False)
            for model in store.iterdir() if (model / "meta.json").is_file() for array in model.glob("outputs-*.npy")}


def _fewer_population(config: Path, folder: Path, *, drop: int) -> Path:
    """``config``'s audit without its first ``drop`` population records, in ``folder`` with its own store."""
    import pandas as pd

    folder.mkdir(parents=True)
    raw = yaml.safe_load(config.read_text())
    frame = pd.read_csv(config.parent / raw["data"]["path"])
    frame.drop(frame.index[frame.split == "population"][:drop]).to_csv(folder / "records.csv", index=False)
    shutil.copy(config.parent / raw["targets"][0]["path"], folder / raw["targets"][0]["path"])
    (folder / "audit.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder / "audit.yaml"


def _results(report: Path) -> dict:
    return {r["attack"]: (r["auc"], r.get("tpr_at_fpr")) for r in json.loads((report / "report.json").read_text())["results"]}


def _sequential(folder: Path, n_estimators: int) -> tuple[Path, dict[str, np.ndarray], dict]:
    """The audit with the sequential backend in this process's machine: what every cluster run must reproduce bit for bit."""
    config = _write_audit(folder, n_estimators)
    run = run_cli("audit", str(config), "--reference-models", str(N_MODELS), "--out", str(folder / "report"), "-q")
    assert run.returncode == 0, run.stderr
    outputs = _stored_outputs(folder / "cache")
    assert len(outputs) == N_MODELS
    return config, outputs, _results(folder / "report")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return _sequential(tmp_path_factory.mktemp("baseline"), n_estimators=150)


def _on_cluster(config: Path, cluster: LoopbackCluster, store: Path, out: Path) -> subprocess.Popen:
    """``privaudit audit --backend ray --ray-address <head>`` with the store at ``store``, started in the background."""
    raw = yaml.safe_load(config.read_text())
    raw["compute"]["store"] = str(store)
    moved = config.with_name(f"audit-{out.name}.yaml")
    moved.write_text(yaml.safe_dump(raw, sort_keys=False))
    environment = {**cluster.env, "PYTHONPATH": str(SRC)}
    args = ["audit", str(moved), "--reference-models", str(N_MODELS), "--backend", "ray", "--ray-address", cluster.address, "--out", str(out), "-q"]
    return subprocess.Popen([sys.executable, "-m", "privaudit.cli", *args], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen, timeout: float = 300) -> tuple[str, str]:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise AssertionError(f"the audit did not finish within {timeout} s:\n{stderr[-3000:]}") from None
    assert process.returncode == 0, stderr[-3000:]
    return stdout, stderr


def _reference_info(report: Path) -> dict:
    return json.loads((report / "report.json").read_text())["run"]["reference"]["boost"]


@pytest.mark.slow
def test_shared_store_on_a_two_node_cluster_equals_the_sequential_run(make_cluster, baseline, tmp_path):
    config, expected, expected_results = baseline
    cluster = make_cluster(workers=2)
    shared = tmp_path / "shared" / "cache"

    # a cluster address from the config is refused without the opt-in (Ray results are pickled), before anything runs
    raw = yaml.safe_load(config.read_text())
    raw["compute"].update(backend="ray", ray_address=cluster.address, store=str(shared))
    (tmp_path / "from-config.yaml").write_text(yaml.safe_dump(raw))
    refused = run_cli("audit", str(tmp_path / "from-config.yaml"), "--out", str(tmp_path / "refused"), env=cluster.env, timeout=120)
    assert refused.returncode == 2 and "compute.ray_address" in refused.stderr and "pickled" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not shared.exists()

    _finish(_on_cluster(config, cluster, shared, tmp_path / "report"))
    assert _stored_outputs(shared).keys() == expected.keys()
    for key, outputs in _stored_outputs(shared).items():
        assert np.array_equal(outputs, expected[key]), key
    assert _results(tmp_path / "report") == expected_results
    info = _reference_info(tmp_path / "report")
    assert info["backend"] == "ray" and info["trained"] == N_MODELS
    # the head has no CPUs: every model trained on a worker node, and those see this store (no mount namespace here)
    for node in cluster.nodes[1:]:
        assert node.processes(), f"{node.name} died during the run"


@pytest.mark.slow
def test_store_only_the_driver_sees_gets_the_models_shipped_back(make_cluster, baseline, tmp_path):
    config, expected, expected_results = baseline
    cluster = make_cluster(workers=2, hide=True)
    store = cluster.hidden / "cache"
    # the workers' view of the folder is their own empty tmpfs: a file made here does not show there
    (cluster.hidden / "probe").write_text("driver only")
    views = [Path(f"/proc/{node.session}/root") / str(cluster.hidden).lstrip("/") for node in cluster.nodes[1:]]
    assert all(view.is_dir() and not any(view.iterdir()) for view in views)

    _finish(_on_cluster(config, cluster, store, tmp_path / "report"))
    for key, outputs in _stored_outputs(store).items():
        assert np.array_equal(outputs, expected[key]), key
    assert _stored_outputs(store).keys() == expected.keys()
    assert _results(tmp_path / "report") == expected_results
    assert all(view.is_dir() and not any(view.iterdir()) for view in views)  # no worker wrote into the store: the driver did
    assert not list(store.rglob(".tmp-*"))

    # the stored models asked about other records (20 population records fewer; the models trained on audited records
    # only): the driver ships each model's files to the workers, which send back its outputs
    fewer = _fewer_population(config, tmp_path / "fewer", drop=20)
    sequential = run_cli("audit", str(fewer), "--reference-models", str(N_MODELS), "--out", str(tmp_path / "fewer" / "report"), "-q")
    assert sequential.returncode == 0, sequential.stderr
    _finish(_on_cluster(fewer, cluster, store, tmp_path / "report-fewer"))
    info = _reference_info(tmp_path / "report-fewer")
    assert info["trained"] == 0 and info["reused"] == N_MODELS
    new = _all_outputs(tmp_path / "fewer" / "cache")
    assert len(new) == N_MODELS and {key for key, _ in new} == expected.keys()
    on_cluster = _all_outputs(store)
    assert len(on_cluster) == 2 * N_MODELS  # the first query set's and this one's
    for name, outputs in new.items():
        assert np.array_equal(on_cluster[name], outputs), name
    assert _results(tmp_path / "report-fewer") == _results(tmp_path / "fewer" / "report")
    assert all(view.is_dir() and not any(view.iterdir()) for view in views)


@pytest.mark.slow
def test_a_node_killed_mid_run_loses_nothing(make_cluster, tmp_path):
    # slower models (~0.5-2 s each) so the kill lands while one trains; 6 models on 2 one-CPU workers
    config, expected, expected_results = _sequential(tmp_path / "uninterrupted", n_estimators=600)
    cluster = make_cluster(workers=2)
    victim, survivor = cluster.nodes[1], cluster.nodes[2]
    store = tmp_path / "shared" / "cache"
    audit = _on_cluster(config, cluster, store, tmp_path / "report")
    deadline, killed_during = time.monotonic() + 240, None
    while killed_during is None:
        assert audit.poll() is None, f"the audit ended before a task ran on {victim.name}: {audit.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "no reference-model task started on the victim node within 240 s"
        if victim.running_tasks():
            finished = len(_stored_outputs(store)) if store.is_dir() else 0
            if finished < N_MODELS:
                victim.kill()
                killed_during = finished
        time.sleep(0.05)
    assert not victim.processes()
    _finish(audit)  # with max_retries=0 this fails with Ray's NodeDiedError: the kill does land on a running task
    assert killed_during < N_MODELS
    outputs = _stored_outputs(store)
    assert outputs.keys() == expected.keys()
    for key, array in outputs.items():
        assert np.array_equal(array, expected[key]), key
    assert _results(tmp_path / "report") == expected_results
    assert survivor.processes(), "the surviving node died too"


def test_an_unreachable_ray_address_fails_in_one_line(tmp_path):
    config = _write_audit(tmp_path / "audit", n_estimators=10)
    closed = _free_port()  # bound and released: nothing listens there
    start = time.monotonic()
    run = run_cli("audit", str(config), "--reference-models", "2", "--backend", "ray", "--ray-address", f"{HOST}:{closed}",
                  "--out", str(tmp_path / "report"), "-q", timeout=120)
    assert time.monotonic() - start < 60
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("privaudit: error: "), run.stderr
    assert f"{HOST}:{closed}" in lines[0] and "no Ray cluster answers there" in lines[0]
    assert "Traceback" not in run.stderr
