"""The ``ensemble`` backend: reference models of a build_mlp recipe trained K at a time.

:func:`run_ensemble` has the signature of every backend in
:mod:`privaudit.reference.backends`. It encodes the pool and query once,
splits the tasks into chunks the ensemble trainer
(:func:`privaudit.reference.ensemble.train_mlp_ensemble`) trains together,
spreads chunks over one-thread worker processes, and writes each finished model
to the store as :func:`privaudit.reference.worker.run_task` does, so a kill
loses at most the chunks in flight.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from privaudit.exceptions import ConfigError, TargetError, require
from privaudit.models import TrainingConfig
from privaudit.reference.ensemble import EnsembleRecipe, ensemble_size, mlp_architecture, torch_threads, train_mlp_ensemble
from privaudit.reference.recipes import PREDICT_BATCH
from privaudit.reference.store import ReferenceStore
from privaudit.reference.worker import TaskResult, init_process_worker, limit_threads, run_task
from privaudit.reference.worker_pool import default_jobs, stop_executor, worker_context

__all__ = ["run_ensemble"]


def _predict(module, inputs: np.ndarray) -> np.ndarray:
    """What ``TorchRecipe.predict`` returns, on inputs encoded once for all models."""
    torch = require("torch", "torch")
    with torch.no_grad():
        chunks = [module(torch.from_numpy(inputs[i : i + PREDICT_BATCH])).double().numpy() for i in range(0, len(inputs), PREDICT_BATCH)]
    return np.concatenate(chunks) if chunks else np.empty((0, 0))


def _chunks(tasks: list, training: TrainingConfig, architecture: dict, n_jobs: int) -> list[list]:
    """Train tasks grouped by minibatches per epoch, cut into balanced chunks: at most :func:`ensemble_size`
    models each, and at least ``n_jobs`` chunks per group while it has that many models (one per core)."""
    groups: dict[int, list] = {}
    for task in tasks:
        groups.setdefault(math.ceil(len(task.positions) / training.batch_size), []).append(task)
    chunks = []
    for group in groups.values():
        largest = min(ensemble_size(architecture, training, len(group)), math.ceil(len(group) / n_jobs))
        n_chunks = math.ceil(len(group) / largest)
        size = math.ceil(len(group) / n_chunks)
        chunks += [group[i : i + size] for i in range(0, len(group), size)]
    return chunks


@dataclass(frozen=True)
class _Shared:
    """What every chunk needs: the recipe, the training rows encoded once, and the query encoded once."""

    recipe: EnsembleRecipe
    positions: np.ndarray  # pool positions of the rows in ``inputs``, sorted
    inputs: np.ndarray  # float32 (len(positions), n_inputs)
    labels: np.ndarray  # (len(positions),)
    query_inputs: np.ndarray  # float32 (n_query, n_inputs)
    query_digest: str
    expected: tuple[int, int]  # (n_query, n_classes)


def _train_chunk(shared: _Shared, store, chunk: list, on_partial=None) -> list[TaskResult]:
    """Train one chunk together and store each model as :func:`~privaudit.reference.worker.run_task` does.

    ``on_partial(indices, fraction)`` hears after each epoch ``e`` of ``E`` that the chunk's models are
    ``e / (E + 1)`` done (the last share is querying and storing them).
    """
    recipe = shared.recipe
    start = time.perf_counter()
    rows = [np.searchsorted(shared.positions, task.positions) for task in chunk]
    indices, share = tuple(task.index for task in chunk), 1.0 / (int(recipe.training.epochs) + 1)
    on_epoch = None if on_partial is None else (lambda epoch: on_partial(indices, epoch * share))
    modules = train_mlp_ensemble(shared.inputs, shared.labels, rows, [task.seed for task in chunk], architecture=recipe.architecture, training=recipe.training,
                                 on_epoch=on_epoch)
    seconds = (time.perf_counter() - start) / len(chunk)
    results = []
    for task, module in zip(chunk, modules):
        begun = time.perf_counter()
        outputs = _predict(module, shared.query_inputs)
        if outputs.shape != shared.expected:
            raise TargetError(f"reference model {task.index} returned shape {outputs.shape} on {shared.expected[0]} query records; expected {shared.expected}")
        store.save_model(task.key, recipe, module, {**task.meta, "key": task.key}, {shared.query_digest: outputs})
        results.append(TaskResult(task.index, task.key, task.kind, seconds + time.perf_counter() - begun))
    return results


_CHUNK_WORKER: dict = {}
#: least seconds between two epoch reports a worker process sends the driver
PARTIAL_INTERVAL_S = 0.5


def _init_chunk_worker(shared: _Shared, store_root: str, driver: int, partial_queue=None) -> None:
    """Pool worker: what every pool worker does (one thread, ignore Ctrl-C, exit with the driver), and hold ``shared``
    (and the queue that carries epoch progress to the driver, if any)."""
    init_process_worker(shared.recipe, None, None, shared.query_digest, store_root, driver)
    _CHUNK_WORKER.update(shared=shared, store=ReferenceStore(store_root), queue=partial_queue)


def _train_chunk_in_worker(chunk: list) -> list[TaskResult]:
    limit_threads()
    queue = _CHUNK_WORKER.get("queue")
    sent = [-math.inf]

    def on_partial(indices, fraction: float) -> None:
        """At most two reports a second: the pipe to the driver never fills (a full one would block this worker's exit)."""
        if time.monotonic() - sent[0] >= PARTIAL_INTERVAL_S:
            sent[0] = time.monotonic()
            queue.put((indices, fraction))

    return _train_chunk(_CHUNK_WORKER["shared"], _CHUNK_WORKER["store"], chunk, None if queue is None else on_partial)


def _drain(partial_queue, on_partial) -> None:
    """Pass every epoch report the workers have sent so far to ``on_partial`` (in the driver)."""
    from queue import Empty

    while partial_queue is not None:
        try:
            indices, fraction = partial_queue.get_nowait()
        except Empty:
            return
        on_partial(indices, fraction)


def run_ensemble(recipe, pool, query, query_digest: str, tasks: list, store, *, n_jobs=None, ray_address=None, on_done, on_partial=None) -> None:
    """Backend ``ensemble``: train the models in chunks that run as one batched ensemble each.

    ``recipe`` must be an :class:`EnsembleRecipe` (so the engine keyed the models
    as ensemble-trained). Chunks (see :func:`ensemble_size`) go to ``n_jobs``
    worker processes (default: all cores), one thread each, as in backend
    ``process``; a single chunk, or ``n_jobs=1``, trains in this process with
    ``n_jobs`` torch threads. Each finished model is written to the store
    atomically as :func:`~privaudit.reference.worker.run_task` does and
    ``on_done`` is called for it when its chunk is done; a kill loses at most
    the chunks in flight. Models that are stored but lack outputs on ``query``
    are loaded and queried one by one in this process. ``ray_address`` is ignored.
    ``on_partial(indices, fraction)`` is called in this process after each epoch
    of a chunk (from worker processes through a queue, read at least once a second).
    """
    if not isinstance(recipe, EnsembleRecipe):
        mlp_architecture(recipe)  # a clear refusal for anything the trainer cannot train at all
        raise ConfigError(
            "backend 'ensemble' needs the recipe wrapped as privaudit.reference.ensemble.EnsembleRecipe(recipe): "
            "ensemble-trained models differ from sequentially trained ones in rounding, so they are stored under their own keys"
        )
    for task in tasks:
        if task.kind != "train":
            on_done(run_task(recipe, pool, query, query_digest, task, store))
    train = [task for task in tasks if task.kind == "train"]
    if not train:
        return
    jobs = max(1, int(n_jobs or default_jobs()))
    needed = np.unique(np.concatenate([task.positions for task in train]))
    shared = _Shared(
        recipe=recipe, positions=needed, inputs=recipe.inputs(pool.subset(needed).features), labels=np.asarray(pool.labels)[needed],
        query_inputs=recipe.inputs(query.features), query_digest=query_digest, expected=(len(query), len(query.classes)),
    )
    chunks = _chunks(train, recipe.training, recipe.architecture, jobs)
    if jobs == 1 or len(chunks) == 1:
        with torch_threads(jobs):
            for chunk in chunks:
                for result in _train_chunk(shared, store, chunk, on_partial):
                    on_done(result)
        return
    context = worker_context()
    partial_queue = context.Queue() if on_partial is not None else None
    executor = ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), mp_context=context, initializer=_init_chunk_worker,
                                   initargs=(shared, str(store.root), os.getpid(), partial_queue))
    try:
        pending = {executor.submit(_train_chunk_in_worker, chunk) for chunk in chunks}
        while pending:
            done, pending = wait(pending, timeout=None if partial_queue is None else 1.0, return_when=FIRST_COMPLETED)
            _drain(partial_queue, on_partial)
            for future in done:
                for result in future.result():
                    on_done(result)
    except KeyboardInterrupt:
        stop_executor(executor, kill_running=True)
        raise
    except BaseException:
        stop_executor(executor, kill_running=False)  # let running chunks finish into the store
        raise
    finally:
        if partial_queue is not None:
            partial_queue.close()
    executor.shutdown(wait=True)


# -- choosing a local backend by measurement ------------------------------------
