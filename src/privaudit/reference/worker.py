"""One reference model's work, the same in every backend: train (or load), query, store.

:func:`run_task` runs in the driver (sequential), a spawned process or a Ray
worker. It writes the finished model straight into the store when it can see
it (``store`` given), and otherwise returns the model's files as bytes for the
driver to write (:meth:`ReferenceStore.save_files`) — a Ray cluster without a
shared filesystem.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

from privaudit.exceptions import TargetError
from privaudit.reference.store import ReferenceStore, load_model_files, model_files

__all__ = ["ModelTask", "TaskResult", "run_task", "limit_threads", "model_seed"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def model_seed(seed: int, index: int) -> int:
    """Seed of reference model ``index`` under run seed ``seed`` (a 32-bit integer, via ``SeedSequence``)."""
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, dtype=np.uint32)[0])


@dataclass(frozen=True)
class ModelTask:
    """What to do for one model.

    ``kind`` is ``"train"`` (train on ``pool`` rows ``positions``, already sorted
    by record id) or ``"query"`` (the model is stored; only its outputs on this
    query set are missing; ``files`` carries it to workers without the store).
    """

    index: int
    key: str
    kind: str
    seed: int
    positions: np.ndarray
    meta: dict
    files: dict | None = None


@dataclass(frozen=True)
class TaskResult:
    """A finished task. ``files`` (a trained model) or ``outputs`` (a queried one) only when the worker had no store."""

    index: int
    key: str
    kind: str
    seconds: float
    files: dict | None = None
    outputs: np.ndarray | None = None


def limit_threads(torch_too: bool = True) -> None:
    """One BLAS/OpenMP thread in this process (workers share the cores among themselves)."""
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    if torch_too and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _checked(outputs: np.ndarray, n_query: int, n_classes: int, task: ModelTask) -> np.ndarray:
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.shape != (n_query, n_classes):
        raise TargetError(f"reference model {task.index} returned shape {outputs.shape} on {n_query} query records; expected {(n_query, n_classes)}")
    return outputs


def run_task(recipe, pool, query, query_digest: str, task: ModelTask, store: ReferenceStore | None) -> TaskResult:
    """Train or load model ``task``, compute its outputs on ``query`` and store them (or return them as files)."""
    start = time.perf_counter()
    n_query, n_classes = len(query), len(query.classes)
    if task.kind == "train":
        train = pool.subset(task.positions)
        model = recipe.train(train.features, train.labels, task.seed)
        outputs = {query_digest: _checked(recipe.predict(model, query.features), n_query, n_classes, task)}
        meta = {**task.meta, "key": task.key}
        if store is not None:
            store.save_model(task.key, recipe, model, meta, outputs)
            return TaskResult(task.index, task.key, task.kind, time.perf_counter() - start)
        return TaskResult(task.index, task.key, task.kind, time.perf_counter() - start, files=model_files(recipe, model, meta, outputs))
    model = store.load_model(task.key, recipe) if task.files is None else load_model_files(recipe, task.files)
    outputs = _checked(recipe.predict(model, query.features), n_query, n_classes, task)
    if store is not None:
        store.save_outputs(task.key, query_digest, outputs)
        return TaskResult(task.index, task.key, task.kind, time.perf_counter() - start)
    return TaskResult(task.index, task.key, task.kind, time.perf_counter() - start, outputs=outputs)


# -- process workers ---------------------------------------------------------
_WORKER: dict = {}


def _watch_driver(driver: int) -> None:
    """End this worker soon after the driver dies (``kill -9``), as the in-flight model is lost anyway."""
    from privaudit.writer_temporaries import process_alive

    parent = os.getppid()  # the driver, or the fork server that dies with it
    while True:
        time.sleep(0.5)
        if os.getppid() != parent or not process_alive(driver):
            os._exit(1)


def init_process_worker(recipe, pool, query, query_digest: str, store_root: str, driver: int) -> None:
    """Initializer of a pool worker: one thread, ignore Ctrl-C (the driver decides), hold the shared inputs once."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads()
    threading.Thread(target=_watch_driver, args=(driver,), daemon=True).start()
    _WORKER.update(recipe=recipe, pool=pool, query=query, query_digest=query_digest, store=ReferenceStore(store_root))


def run_in_process_worker(task: ModelTask) -> TaskResult:
    limit_threads()  # torch may have been imported by the previous task
    w = _WORKER
    return run_task(w["recipe"], w["pool"], w["query"], w["query_digest"], task, w["store"])
