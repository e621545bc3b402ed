"""Reference models as Ray tasks (extra ``privaudit[ray]``; ``ray`` is imported only here).

Each model is one ``ray.remote(num_cpus=1)`` task. Without a running Ray
session, ``ray.init()`` starts a local one (``num_cpus=n_jobs``) or connects to
the cluster at ``ray_address`` (e.g. ``"ray://head:10001"`` or ``"auto"``); a
session started here is shut down at the end, one already running is left alone.

Storage: a task writes its model straight into the store when it sees the same
store folder as the driver (a shared filesystem, always true on one machine;
checked by the store's id file, not assumed). Otherwise it returns the model's
files and outputs as bytes and the driver writes them, atomically as usual —
so a cluster without a shared filesystem works too, at the price of moving
each model through Ray's object store and losing in-flight models with the
driver. Workers must be able to ``import privaudit`` (and the recipe's
factory module) in the same versions as the driver.
"""

from __future__ import annotations

import dataclasses

from privaudit.exceptions import require
from privaudit.reference.store import ReferenceStore
from privaudit.reference.worker import ModelTask, TaskResult, limit_threads, run_task

__all__ = ["run_on_ray"]


def _ray_task(recipe, pool, query, query_digest: str, task: ModelTask, store_root: str, store_identity: str) -> TaskResult:
    limit_threads()
    store = ReferenceStore(store_root)
    return run_task(recipe, pool, query, query_digest, task, store if store.sees(store_identity) else None)


def run_on_ray(recipe, pool, query, query_digest: str, tasks: list[ModelTask], store: ReferenceStore, *, n_jobs=None, ray_address=None, on_done) -> None:
    """Run ``tasks`` as Ray tasks; ``on_done(result)`` in the driver as each finishes (see the module docstring)."""
    if not tasks:
        return
    ray = require("ray", "ray")
    started = not ray.is_initialized()
    if started:
        options = {"address": ray_address} if ray_address else {"num_cpus": n_jobs}
        ray.init(**options, include_dashboard=False)
    pending: dict = {}
    try:
        identity = store.identity()
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_task)
        shared = [ray.put(recipe), ray.put(pool), ray.put(query)]
        for task in tasks:
            if task.kind == "query":  # the worker may not see the store (a remote cluster): ship the stored model
                task = dataclasses.replace(task, files=store.read_model_files(task.key))
            pending[remote.remote(*shared, query_digest, task, str(store.root), identity)] = task
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                pending.pop(ref)
                on_done(ray.get(ref))
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()
