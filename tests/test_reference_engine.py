"""Reference-model engine: designs, the content-keyed store, cache reuse, kill-and-resume, backends, recipes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from privaudit.data import AuditData, RecordSet
from privaudit.exceptions import ConfigError, DataError, IntegrityError, UnknownNameError
from privaudit.reference import (
    ReferenceStore,
    SklearnRecipe,
    TorchRecipe,
    offline_keep_mask,
    reference_design,
    reference_keep_mask,
    train_reference_models,
)
from privaudit.reference.store import STORE_FORMAT, file_sha256, model_files, records_digest
from privaudit.reference.worker import ModelTask, run_task

N_POOL, N_MODELS, SEED = 48, 4, 7


def _records(n: int = N_POOL, seed: int = 0, prefix: str = "r") -> RecordSet:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    labels = (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(np.intp)
    return RecordSet(np.array([f"{prefix}{i:04d}" for i in range(n)]), pd.DataFrame(x, columns=["a", "b", "c"]), labels, (0, 1))


def _recipe() -> SklearnRecipe:
    return SklearnRecipe(LogisticRegression(C=10.0))


def _run(store_root, *, pool=None, query=None, keep=None, backend="sequential", **kwargs):
    pool = _records() if pool is None else pool
    keep = reference_keep_mask(len(pool), N_MODELS, seed=SEED) if keep is None else keep
    query = pool if query is None else query
    return train_reference_models(_recipe(), pool, keep, query, store=ReferenceStore(store_root), seed=SEED, backend=backend, **kwargs)


def _finished(root: Path) -> int:
    return sum(1 for p in root.iterdir() if not p.name.startswith(".") and (p / "meta.json").is_file()) if root.is_dir() else 0


def _litter(root: Path) -> list[Path]:
    return [p for p in root.rglob(".tmp-*")]


# -- design ------------------------------------------------------------------
@pytest.mark.parametrize(("n", "m", "fraction", "k_in"), [(101, 8, 0.5, 4), (37, 5, 0.5, 3), (50, 16, 0.25, 4), (10, 3, 0.5, 2), (7, 2, 0.5, 1)])
def test_keep_mask_rows_exact_and_columns_balanced(n, m, fraction, k_in):
    keep = reference_keep_mask(n, m, seed=3, fraction=fraction)
    assert keep.shape == (n, m) and keep.dtype == bool
    assert np.all(keep.sum(axis=1) == k_in)
    columns = keep.sum(axis=0)
    assert columns.sum() == n * k_in and columns.max() - columns.min() <= 1


def test_keep_mask_is_seeded_and_random_per_record():
    a, b = reference_keep_mask(200, 8, seed=1), reference_keep_mask(200, 8, seed=1)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, reference_keep_mask(200, 8, seed=2))
    # records are not assigned in a few fixed blocks: many distinct IN patterns (70 possible)
    assert len({row.tobytes() for row in a}) > 40


def test_train_size_caps_models_and_keeps_rows_equal():
    keep = reference_keep_mask(100, 4, seed=0, train_size=30)
    assert keep.sum(axis=0).max() <= 30 and np.all(keep.sum(axis=1) == 1)
    assert np.array_equal(reference_keep_mask(100, 4, seed=0, train_size=50), reference_keep_mask(100, 4, seed=0))
    with pytest.raises(ConfigError, match="too small"):
        reference_keep_mask(100, 4, seed=0, train_size=10)


def test_designs_refuse_degenerate_online_but_allow_offline():
    with pytest.raises(ConfigError, match="at least 2 models"):
        reference_keep_mask(10, 1, seed=0)
    with pytest.raises(ConfigError, match="fraction"):
        reference_keep_mask(10, 4, seed=0, fraction=0.0)
    assert offline_keep_mask(10, 1, seed=0).all()
    keep = offline_keep_mask(30, 6, seed=0)
    assert np.all(keep.sum(axis=1) == 3) and np.ptp(keep.sum(axis=0)) <= 1


def test_reference_design_pools():
    records = _records(30)
    data = AuditData(records, np.arange(10), np.arange(10, 20), np.arange(20, 30))
    pool, keep = reference_design(data, 4, seed=0)
    assert pool.tolist() == list(range(30)) and keep.shape == (30, 4)
    pool, keep = reference_design(data, 4, seed=0, mode="offline")
    assert pool.tolist() == list(range(20, 30)) and keep.shape == (10, 4)
    no_population = AuditData(records, np.arange(10), np.arange(10, 20), np.empty(0, np.intp))
    with pytest.raises(DataError, match="population"):
        reference_design(no_population, 4, seed=0, mode="offline")


# -- store ---------------------------------------------------------------------
def test_model_key_tracks_recipe_data_and_seed(tmp_path):
    store, recipe, pool = ReferenceStore(tmp_path), _recipe(), _records()
    key = store.model_key(recipe, pool.ids, 1, content_digest=records_digest(pool, sort_by_id=True))
    assert len(key) == 64
    assert key == store.model_key(_recipe(), pool.ids[::-1], 1, content_digest=records_digest(pool.subset(np.arange(N_POOL)[::-1]), sort_by_id=True))
    assert key != store.model_key(recipe, pool.ids, 2, content_digest=records_digest(pool, sort_by_id=True))
    assert key != store.model_key(SklearnRecipe(LogisticRegression(C=1.0)), pool.ids, 1, content_digest=records_digest(pool, sort_by_id=True))
    assert key != store.model_key(recipe, pool.ids[1:], 1, content_digest=records_digest(pool, sort_by_id=True))
    edited = RecordSet(pool.ids, pool.features * 2, pool.labels, pool.classes)
    assert key != store.model_key(recipe, pool.ids, 1, content_digest=records_digest(edited, sort_by_id=True))


def test_leftover_temporary_files_are_ignored_and_cleaned(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    orphan = tmp_path / f".tmp-{host}-{dead.pid}-{uuid.uuid4().hex}"
    (orphan / "model").mkdir(parents=True)
    (orphan / "meta.json").write_text("{half written")
    live = tmp_path / f".tmp-{host}-{os.getpid()}-{uuid.uuid4().hex}"
    live.mkdir()
    result = _run(tmp_path)
    assert result.trained == N_MODELS and _finished(tmp_path) == N_MODELS
    assert not orphan.exists() and live.exists()  # a live writer's folder is left alone


def test_stored_meta_or_outputs_mismatch_is_refused(tmp_path):
    first = _run(tmp_path)
    meta_path = tmp_path / first.model_keys[0] / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "key": "0" * 64}))
    with pytest.raises(DataError, match="meta is for key"):
        _run(tmp_path)
    meta_path.write_text(json.dumps(meta))
    outputs = next((tmp_path / first.model_keys[1]).glob("outputs-*.npy"))
    sidecar = outputs.with_suffix(".json")

    def rehash():  # past the content hash, to reach the shape and pickle checks behind it
        sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "sha256": file_sha256(outputs)}))

    np.save(outputs, np.zeros((N_POOL, 3)))  # right file, wrong shape
    with pytest.raises(IntegrityError, match="does not match the sha256"):
        _run(tmp_path)
    rehash()
    with pytest.raises(DataError, match="expected float64"):
        _run(tmp_path)
    np.save(outputs, np.array([{"a": 1}] * N_POOL, dtype=object), allow_pickle=True)  # a pickle in disguise
    rehash()
    with pytest.raises(DataError, match="unreadable"):
        _run(tmp_path)


def test_altered_outputs_are_refused_by_their_content_hash(tmp_path):
    """Same shape, same dtype, one value changed: only the recorded sha256 can tell (silently used before)."""
    first = _run(tmp_path)
    outputs = next((tmp_path / first.model_keys[2]).glob("outputs-*.npy"))
    altered = np.load(outputs)
    altered[0] = altered[0][::-1]
    np.save(outputs, altered)
    with pytest.raises(IntegrityError, match="does not match the sha256") as info:
        _run(tmp_path)
    assert str(outputs) in str(info.value) and "to recompute" in str(info.value)
    outputs.unlink()  # the fix the message gives
    outputs.with_suffix(".json").unlink()
    again = _run(tmp_path)
    assert (again.trained, again.queried) == (0, 1) and np.array_equal(again.outputs, first.outputs)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "extra"])
def test_damaged_model_files_are_refused_by_their_content_hash(tmp_path, damage):
    """A truncated or altered model.skops is named, with the fix, before skops ever parses it."""
    pool, recipe, store = _records(), _recipe(), ReferenceStore(tmp_path)
    first = _run(tmp_path)
    key = first.model_keys[0]
    model_file = tmp_path / key / "model" / "model.skops"
    data = model_file.read_bytes()
    if damage == "truncate":
        model_file.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        model_file.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    elif damage == "delete":
        model_file.unlink()
    else:
        (tmp_path / key / "model" / "planted.py").write_text("print('hi')")
    with pytest.raises(IntegrityError, match=f"delete {tmp_path / key} to retrain"):
        store.load_model(key, recipe)
    with pytest.raises(IntegrityError):
        store.read_model_files(key)
    # a new query set needs the model itself: the audit stops with the same error instead of using it
    with pytest.raises(IntegrityError):
        _run(tmp_path, query=_records(6, seed=3, prefix="q"), pool=pool)


def test_store_without_hashes_is_refused_with_the_fix(tmp_path):
    _run(tmp_path)
    marker = tmp_path / ".privaudit-store.json"
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "format": 1}))  # as written before hashes existed
    with pytest.raises(DataError, match="delete that folder to retrain, or set compute.store"):
        _run(tmp_path)
    key_dir = next(p for p in tmp_path.iterdir() if (p / "meta.json").is_file())
    meta = json.loads((key_dir / "meta.json").read_text())
    meta.pop("files")
    (key_dir / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(IntegrityError, match="no content hashes"):
        ReferenceStore(tmp_path).load_model(key_dir.name, _recipe())


# -- cache -----------------------------------------------------------------------
def test_second_run_reuses_everything_bit_for_bit(tmp_path):
    calls = []
    first = _run(tmp_path, progress=lambda done, total, message: calls.append((done, total)))
    assert (first.trained, first.reused) == (N_MODELS, 0) and first.outputs.shape == (N_MODELS, N_POOL, 2)
    assert calls[0] == (0, N_MODELS) and calls[-1] == (N_MODELS, N_MODELS)
    second = _run(tmp_path)
    assert (second.trained, second.reused, second.queried) == (0, N_MODELS, 0)
    assert np.array_equal(first.outputs, second.outputs) and first.model_keys == second.model_keys
    # a new query set loads the stored models and only queries them
    query = _records(10, seed=5, prefix="q")
    third = _run(tmp_path, query=query)
    assert (third.trained, third.queried) == (0, N_MODELS) and third.outputs.shape == (N_MODELS, 10, 2)
    fresh = _run(tmp_path / "fresh", query=query)
    assert np.array_equal(third.outputs, fresh.outputs)


def test_inputs_are_checked(tmp_path):
    pool = _records()
    with pytest.raises(DataError, match="bool"):
        _run(tmp_path, keep=np.ones((N_POOL, 2), dtype=int))
    keep = np.zeros((N_POOL, 2), bool)
    keep[pool.labels == 0, 0] = True
    keep[:, 1] = True
    with pytest.raises(DataError, match="without any of class 1"):
        _run(tmp_path, keep=keep)
    with pytest.raises(UnknownNameError, match="sequential"):
        _run(tmp_path, backend="threads")
    assert _finished(tmp_path) == 0


def test_worker_without_the_store_returns_files_the_driver_writes(tmp_path):
    pool, recipe, store = _records(), _recipe(), ReferenceStore(tmp_path)
    task = ModelTask(index=0, key="k" * 64, kind="train", seed=1, positions=np.arange(20), meta={"format": STORE_FORMAT})
    result = run_task(recipe, pool, pool, "q" * 64, task, None)
    assert result.files is not None and "meta.json" in result.files and not any(tmp_path.iterdir())
    store.save_files(task.key, result.files)
    model = store.load_model(task.key, recipe)
    assert np.array_equal(store.load_outputs(task.key, "q" * 64, (N_POOL, 2)), recipe.predict(model, pool.features))
    with pytest.raises(DataError, match="carry meta"):
        store.save_files("x" * 64, model_files(recipe, model, {"key": "y" * 64}, {}))
    # a stored model shipped to such a worker for a new query set comes back as outputs
    query = _records(5, seed=9, prefix="q")
    shipped = ModelTask(index=0, key=task.key, kind="query", seed=1, positions=np.arange(0), meta={}, files=store.read_model_files(task.key))
    answer = run_task(recipe, pool, query, "z" * 64, shipped, None)
    assert answer.files is None and np.array_equal(answer.outputs, recipe.predict(model, query.features))


# -- backends --------------------------------------------------------------------
def test_process_backend_matches_sequential(tmp_path):
    sequential = _run(tmp_path / "seq")
    parallel = _run(tmp_path / "proc", backend="process", n_jobs=2)
    assert parallel.trained == N_MODELS and parallel.model_keys == sequential.model_keys
    assert np.array_equal(parallel.outputs, sequential.outputs)


@pytest.mark.slow  # starting a local Ray instance alone takes 6-15 s
def test_ray_backend_matches_sequential(tmp_path):
    ray = pytest.importorskip("ray")
    sequential = _run(tmp_path / "seq")
    distributed = _run(tmp_path / "ray", backend="ray", n_jobs=2)
    assert distributed.trained == N_MODELS and not ray.is_initialized()  # the local session it started is closed
    assert np.array_equal(distributed.outputs, sequential.outputs)


# -- kill and resume -------------------------------------------------------------
COUNTING_RECIPE = '''
import os, sys, time
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from privaudit.data import RecordSet
from privaudit.reference import ReferenceStore, SklearnRecipe, reference_keep_mask, train_reference_models


class CountingRecipe(SklearnRecipe):
    """Appends one line per training to a counter file, then trains slowly."""

    def __init__(self, estimator, *, counter, delay):
        super().__init__(estimator)
        self.counter, self.delay = counter, delay

    def train(self, features, labels, seed):
        with open(self.counter, "a") as handle:
            handle.write(f"{os.getpid()} {seed}\\n")
        time.sleep(self.delay)
        return super().train(features, labels, seed)


def main(store, counter, backend, n_jobs, n_models, delay):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    pool = RecordSet(np.array([f"r{i}" for i in range(40)]), pd.DataFrame(x, columns=list("abc")), (x[:, 0] > 0).astype(int), (0, 1))
    keep = reference_keep_mask(40, n_models, seed=1)
    recipe = CountingRecipe(LogisticRegression(), counter=counter, delay=delay)
    return train_reference_models(recipe, pool, keep, pool, store=ReferenceStore(store), seed=1, backend=backend, n_jobs=n_jobs)
'''

DRIVER = '''
import sys
from counting_recipe import main

if __name__ == "__main__":
    store, counter, backend, n_jobs, n_models = sys.argv[1:]
    main(store, counter, backend, int(n_jobs), int(n_models), delay=0.3)
'''


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize(("backend", "n_jobs", "kill_signal"), [("process", 2, signal.SIGKILL), ("sequential", 1, signal.SIGINT)])
def test_killed_run_resumes_training_only_the_unfinished_models(tmp_path, backend, n_jobs, kill_signal):
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to see when killed workers are gone")
    (tmp_path / "counting_recipe.py").write_text(COUNTING_RECIPE)
    (tmp_path / "driver.py").write_text(DRIVER)
    store, counter, n_models = tmp_path / "store", tmp_path / "trainings.txt", 8
    args = [sys.executable, str(tmp_path / "driver.py"), str(store), str(counter), backend, str(n_jobs), str(n_models)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while _finished(store) < 2:
            assert run.poll() is None, run.stderr.read().decode()
            assert time.monotonic() < deadline, "no two models finished within 60 s"
            time.sleep(0.02)
        os.kill(run.pid, kill_signal)
        _, stderr = run.communicate(timeout=30)
        assert run.returncode != 0, "the run finished before it could be killed"
        if kill_signal == signal.SIGINT:
            assert b"KeyboardInterrupt" in stderr
        # workers of a killed driver exit on their own; wait until none is left
        trainers = {int(line.split()[0]) for line in counter.read_text().splitlines()} - {run.pid}
        while any(_alive(pid) for pid in trainers):
            assert time.monotonic() < deadline + 30, "workers outlived the killed driver"
            time.sleep(0.05)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    finished, started = _finished(store), len(counter.read_text().splitlines())
    lost = started - finished  # trainings in flight when killed
    assert 2 <= finished < n_models and 0 <= lost <= n_jobs

    # rerun here, sequentially and without the delay (resuming is the engine's cache check, the same for every backend)
    recipe_module: dict = {}
    exec(compile(COUNTING_RECIPE, str(tmp_path / "counting_recipe.py"), "exec"), recipe_module)
    rerun = recipe_module["main"](store, counter, "sequential", 1, n_models, delay=0.0)
    assert (rerun.trained, rerun.reused) == (n_models - finished, finished)
    assert len(counter.read_text().splitlines()) == n_models + lost
    assert _finished(store) == n_models and not _litter(store)
    clean = recipe_module["main"](tmp_path / "clean", tmp_path / "clean.txt", "sequential", 1, n_models, delay=0.0)
    assert np.array_equal(rerun.outputs, clean.outputs)  # resumed results equal an uninterrupted run's


# -- torch -----------------------------------------------------------------------
def test_torch_recipe_round_trip(tmp_path):
    pytest.importorskip("torch")
    from sklearn.preprocessing import StandardScaler

    from privaudit.models import TrainingConfig

    pool = _records(40)
    scaler = StandardScaler().fit(pool.features)
    recipe = TorchRecipe("privaudit.models:build_mlp", {"n_inputs": 3, "n_classes": 2, "hidden": [8]}, TrainingConfig(epochs=3, batch_size=16), transform=scaler)
    keep = reference_keep_mask(40, 2, seed=0)
    store = ReferenceStore(tmp_path)
    first = train_reference_models(recipe, pool, keep, pool, store=store, seed=0)
    assert first.output_kind == "logits" and first.outputs.shape == (2, 40, 2) and first.trained == 2
    assert not list(tmp_path.rglob("*.pt")) and len(list(tmp_path.rglob("model.safetensors"))) == 2
    for k, key in enumerate(first.model_keys):
        assert np.array_equal(recipe.predict(store.load_model(key, recipe), pool.features), first.outputs[k])
    second = train_reference_models(recipe, pool, keep, pool, store=store, seed=0)
    assert second.trained == 0 and np.array_equal(second.outputs, first.outputs)
    other_scaler = StandardScaler().fit(pool.features * 3)
    moved = TorchRecipe("privaudit.models:build_mlp", {"n_inputs": 3, "n_classes": 2, "hidden": [8]}, TrainingConfig(epochs=3, batch_size=16), transform=other_scaler)
    assert store.model_key(moved, pool.ids, 0) != store.model_key(recipe, pool.ids, 0)
    with pytest.raises(ConfigError, match="patience"):
        TorchRecipe("privaudit.models:build_mlp", {}, TrainingConfig(patience=2))


def test_importing_the_engine_imports_neither_torch_nor_ray():
    code = "import sys, privaudit.reference; print(sorted({'torch', 'ray'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
