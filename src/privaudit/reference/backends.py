"""Where reference models train: registered backends.

Each backend is ``run(recipe, pool, query, query_digest, tasks, store, *, n_jobs, ray_address, on_done, on_partial)``;
it runs every :class:`~privaudit.reference.worker.ModelTask` and calls
``on_done(result)`` in the driver as each finishes. A backend that sees models
part-way (``ensemble``: after each epoch) may also call ``on_partial(indices,
fraction)`` in the driver — the models with those task indices are ``fraction``
(0 … 1) done — so progress moves before a batch of models finishes together. Workers write finished
models to the store themselves, so a killed run loses only the models in flight.

* ``sequential`` — in this process, one after another, with this process's thread settings.
* ``process`` — a pool of fresh processes (``n_jobs``, default all cores; started by a
  fork server that imported privaudit once, or spawned where there is none),
  one BLAS/OpenMP/torch thread each. Ctrl-C cancels pending models, stops the
  running ones and re-raises ``KeyboardInterrupt``; workers also exit on their
  own if the driver is killed.
* ``ray`` — see :mod:`privaudit.reference.ray_backend`.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Sequence

from privaudit.registry import Registry
from privaudit.reference.worker import ModelTask, TaskResult, init_process_worker, run_in_process_worker, run_task

__all__ = ["BACKENDS", "default_jobs"]

#: backend name → ``run(recipe, pool, query, query_digest, tasks, store, *, n_jobs, ray_address, on_done, on_partial)``
BACKENDS: Registry = Registry("reference backend")

OnDone = Callable[[TaskResult], None]
#: ``on_partial(indices, fraction)``: the models with these task indices are ``fraction`` (0 … 1) done
OnPartial = Callable[[Sequence[int], float], None]


def default_jobs() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@BACKENDS.register("sequential")
def run_sequential(recipe, pool, query, query_digest: str, tasks: list[ModelTask], store, *, n_jobs=None, ray_address=None, on_done: OnDone,
                   on_partial: OnPartial | None = None) -> None:
    for task in tasks:
        on_done(run_task(recipe, pool, query, query_digest, task, store))


#: imported once by the fork server, so workers forked from it start without importing them again
#: (skops.io is slow to import: it pulls in torch when torch is installed)
FORKSERVER_PRELOAD = ["privaudit.reference.worker", "skops.io"]


def _worker_context():
    """Fresh worker processes, never plain ``fork`` (unsafe with threads): forked from a fork server that
    imported :data:`FORKSERVER_PRELOAD` once where available, otherwise ``spawn``. Either way a script
    using this backend needs the ``if __name__ == "__main__":`` guard of :mod:`multiprocessing`."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover - Windows
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(FORKSERVER_PRELOAD)  # takes effect when this process first starts its fork server
    return context


def _stop(executor: ProcessPoolExecutor, *, kill_running: bool) -> None:
    """Cancel pending tasks; with ``kill_running``, also end the worker processes this executor started."""
    processes = list(getattr(executor, "_processes", {}).values()) if kill_running else []
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)


@BACKENDS.register("process")
def run_processes(recipe, pool, query, query_digest: str, tasks: list[ModelTask], store, *, n_jobs=None, ray_address=None, on_done: OnDone,
                  on_partial: OnPartial | None = None) -> None:
    if not tasks:
        return
    workers = max(1, min(n_jobs or default_jobs(), len(tasks)))
    executor = ProcessPoolExecutor(
        max_workers=workers, mp_context=_worker_context(),
        initializer=init_process_worker, initargs=(recipe, pool, query, query_digest, str(store.root), os.getpid()),
    )
    try:
        pending = {executor.submit(run_in_process_worker, task) for task in tasks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                on_done(future.result())
    except KeyboardInterrupt:
        _stop(executor, kill_running=True)
        raise
    except BaseException:
        _stop(executor, kill_running=False)  # let running models finish into the store
        raise
    executor.shutdown(wait=True)


@BACKENDS.register("ray")
def run_ray(recipe, pool, query, query_digest: str, tasks: list[ModelTask], store, *, n_jobs=None, ray_address=None, on_done: OnDone,
            on_partial: OnPartial | None = None) -> None:
    from privaudit.reference.ray_backend import run_on_ray

    run_on_ray(recipe, pool, query, query_digest, tasks, store, n_jobs=n_jobs, ray_address=ray_address, on_done=on_done)


from privaudit.reference.ensemble_backend import run_ensemble  # noqa: E402  (no torch at import; trains build_mlp models K at once)

BACKENDS.register("ensemble")(run_ensemble)
