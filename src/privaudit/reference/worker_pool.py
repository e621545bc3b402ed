"""The worker processes reference models train in: how many, how they start, how they are stopped.

Shared by the ``process`` backend (:mod:`privaudit.reference.backends`) and the
``ensemble`` backend (:mod:`privaudit.reference.ensemble_backend`).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

__all__ = ["FORKSERVER_PRELOAD", "default_jobs", "stop_executor", "worker_context"]

#: imported once by the fork server, so workers forked from it start without importing them again
#: (skops.io is slow to import: it pulls in torch when torch is installed)
FORKSERVER_PRELOAD = ["privaudit.reference.worker", "skops.io"]


def default_jobs() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def worker_context():
    """Fresh worker processes, never plain ``fork`` (unsafe with threads): forked from a fork server that
    imported :data:`FORKSERVER_PRELOAD` once where available, otherwise ``spawn``. Either way a script
    using this backend needs the ``if __name__ == "__main__":`` guard of :mod:`multiprocessing`."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover - Windows
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(FORKSERVER_PRELOAD)  # takes effect when this process first starts its fork server
    return context


def stop_executor(executor: ProcessPoolExecutor, *, kill_running: bool) -> None:
    """Cancel pending tasks; with ``kill_running``, also end the worker processes this executor started."""
    processes = list(getattr(executor, "_processes", {}).values()) if kill_running else []
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
