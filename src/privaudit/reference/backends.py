"""Where reference models train: registered backends.

Each backend is ``run(recipe, pool, query, query_digest, tasks, store, *, n_jobs, ray_address, on_done, on_partial)``;
it runs every :class:`~privaudit.reference.worker.ModelTask` and calls
``on_done(result)`` in the driver as each finishes. A backend that sees models
part-way (``ensemble``: after each epoch) may also call ``on_partial(indices,
fraction)`` in the driver — the models with those task indices are ``fraction``
(0 … 1) done — so progress moves before a batch of models finishes together. Workers write finished
models to the store themselves, so a killed run loses only the models in flight.

* ``sequential`` — in this process, one after another, with this process's thread settings.
* ``process`` — a pool of fresh processes (:mod:`privaudit.reference.worker_pool`) (``n_jobs``, default all cores; started by a
  fork server that imported privaudit once, or spawned where there is none),
  one BLAS/OpenMP/torch thread each. Ctrl-C cancels pending models, stops the
  running ones and re-raises ``KeyboardInterrupt``; workers also exit on their
  own if the driver is killed.
* ``ray`` — see :mod:`privaudit.reference.ray_backend`.
* ``ensemble`` — see :mod:`privaudit.reference.ensemble_backend`.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Sequence

from privaudit.reference.ensemble_backend import run_ensemble
from privaudit.registry import Registry
from privaudit.reference.worker import ModelTask, TaskResult, init_process_worker, run_in_process_worker, run_task
from privaudit.reference.worker_pool import default_jobs, stop_executor, worker_context

__all__ = ["BACKENDS", "default_jobs"]

#: backend name → ``run(recipe, pool, query, query_digest, tasks, store, *, n_jobs, ray_address, on_done, on_partial)``
BACKENDS: Registry = Registry("reference backend")

OnDone = Callable[[TaskResult], None]
#: ``on_partial(indices, fraction)``: the models with these task indices are ``fraction`` (0 … 1) done
OnPartial = Callable[[Sequence[int], float], None]


@BACKENDS.register("sequential")
def run_sequential(recipe, pool, query, query_digest: str, tasks: list[ModelTask], store, *, n_jobs=None, ray_address=None, on_done: OnDone,
                   on_partial: OnPartial | None = None) -> None:
    for task in tasks:
        on_done(run_task(recipe, pool, query, query_digest, task, store))


@BACKENDS.register("process")
def run_processes(recipe, pool, query, query_digest: str, tasks: list[ModelTask], store, *, n_jobs=None, ray_address=None, on_done: OnDone,
                  on_partial: OnPartial | None = None) -> None:
    if not tasks:
        return
    workers = max(1, min(n_jobs or default_jobs(), len(tasks)))
    executor = ProcessPoolExecutor(
        max_workers=workers, mp_context=worker_context(),
        initializer=init_process_worker, initargs=(recipe, pool, query, query_digest, str(store.root), os.getpid()),
    )
    try:
        pending = {executor.submit(run_in_process_worker, task) for task in tasks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                on_done(future.result())
    except KeyboardInterrupt:
        stop_executor(executor, kill_running=True)
        raise
    except BaseException:
        stop_executor(executor, kill_running=False)  # let running models finish into the store
        raise
    executor.shutdown(wait=True)


@BACKENDS.register("ray")
def run_ray(recipe, pool, query, query_digest: str, tasks: list[ModelTask], store, *, n_jobs=None, ray_address=None, on_done: OnDone,
            on_partial: OnPartial | None = None) -> None:
    from privaudit.reference.ray_backend import run_on_ray

    run_on_ray(recipe, pool, query, query_digest, tasks, store, n_jobs=n_jobs, ray_address=ray_address, on_done=on_done)


BACKENDS.register("ensemble")(run_ensemble)  # no torch at import; trains build_mlp models K at once
