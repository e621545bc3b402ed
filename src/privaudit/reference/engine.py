"""Train reference models from a recipe, reusing what the store already holds.

:func:`train_reference_models` trains model ``k`` on the pool records
``keep_mask[:, k]`` (sorted by record id, so a model depends only on *which*
records it saw) with seed :func:`~privaudit.reference.worker.model_seed` ``(seed, k)``,
and returns every model's outputs on the query records. Each model is stored
under its content key as soon as it finishes (by the worker that trained it),
so rerunning with the same inputs trains nothing, and rerunning after a kill
trains only what was unfinished. Turning the outputs into signals and a
:class:`~privaudit.attacks.reference.ReferenceSignals` is the caller's job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from privaudit._version import __version__
from privaudit.exceptions import DataError
from privaudit.reference.backends import BACKENDS
from privaudit.reference.store import STORE_FORMAT, ReferenceStore, records_digest
from privaudit.reference.worker import ModelTask, TaskResult, model_seed

__all__ = ["ReferenceOutputs", "train_reference_models", "model_keys", "all_stored"]

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ReferenceOutputs:
    """Outputs of every reference model on the query records.

    Attributes
    ----------
    outputs : ndarray of float64, shape (n_models, n_query, n_classes)
        ``outputs[k, i]`` is model ``k``'s answer for query record ``i`` (columns in class-index order).
    output_kind : {"probabilities", "logits"}
    model_keys : tuple of str
        Store key of each model, in model order.
    trained : int
        Models trained in this call.
    reused : int
        Models taken from the store (``n_models − trained``), of which ``queried`` had to be loaded
        and queried because their outputs on this query set were not stored yet.
    queried : int
    query_ids : ndarray of str, shape (n_query,)
    """

    outputs: np.ndarray
    output_kind: str
    model_keys: tuple[str, ...]
    trained: int
    reused: int
    queried: int = 0
    query_ids: np.ndarray | None = None

    @property
    def n_models(self) -> int:
        return int(self.outputs.shape[0])


def _check_inputs(pool, keep_mask, query) -> np.ndarray:
    keep = np.asarray(keep_mask)
    if keep.dtype != bool or keep.ndim != 2 or keep.shape[0] != len(pool):
        raise DataError(f"keep_mask must be bool (n_pool={len(pool)}, n_models), got {keep.dtype} {keep.shape}")
    if keep.shape[1] == 0:
        raise DataError("keep_mask has no columns: ask for at least one reference model")
    if pool.features.shape[1] == 0:
        raise DataError(
            "reference models need feature columns to train on, but the records have none; list the columns the "
            "reference estimator takes under data.features (a precomputed target's data file must hold them too)"
        )
    if tuple(map(str, pool.classes)) != tuple(map(str, query.classes)):
        raise DataError(f"pool and query records have different classes: {list(pool.classes)} and {list(query.classes)}")
    n_classes = len(pool.classes)
    for k in range(keep.shape[1]):
        present = np.unique(pool.labels[keep[:, k]])
        if present.size < n_classes:
            missing = sorted(set(range(n_classes)) - set(present.tolist()))
            raise DataError(
                f"reference model {k} would train on {int(keep[:, k].sum())} records without any of class "
                f"{', '.join(str(pool.classes[c]) for c in missing)}; use more pool records (e.g. population records) or a larger fraction"
            )
    return keep


def _training_rows(pool, keep: np.ndarray, k: int) -> np.ndarray:
    """Pool rows model ``k`` trains on, sorted by record id (a model depends only on *which* records it saw)."""
    rows = np.flatnonzero(keep[:, k])
    return rows[np.argsort(pool.ids[rows].astype(str), kind="stable")]


def _model_key(recipe, pool, keep: np.ndarray, store: ReferenceStore, seed: int, k: int) -> str:
    train = pool.subset(_training_rows(pool, keep, k))
    return store.model_key(recipe, train.ids, model_seed(seed, k), content_digest=records_digest(train))


def model_keys(recipe, pool, keep_mask: np.ndarray, store: ReferenceStore, seed: int) -> list[str]:
    """The store key of each model ``k`` of ``keep_mask`` trained by ``recipe`` (what :func:`train_reference_models` stores it under)."""
    keep = np.asarray(keep_mask)
    return [_model_key(recipe, pool, keep, store, seed, k) for k in range(keep.shape[1])]


def all_stored(recipe, pool, keep_mask: np.ndarray, store: ReferenceStore, seed: int) -> bool:
    """True when every model of the design is already in ``store`` under ``recipe``'s keys (a rerun trains nothing); stops at the first missing one."""
    keep = np.asarray(keep_mask)
    return keep.shape[1] > 0 and all(store.has_model(_model_key(recipe, pool, keep, store, seed, k)) for k in range(keep.shape[1]))


def train_reference_models(
    recipe,
    pool,
    keep_mask: np.ndarray,
    query,
    *,
    store: ReferenceStore,
    seed: int,
    backend: str = "sequential",
    n_jobs: int | None = None,
    ray_address: str | None = None,
    progress: Progress | None = None,
) -> ReferenceOutputs:
    """Train (or reuse) ``keep_mask.shape[1]`` reference models and return their outputs on ``query``.

    Parameters
    ----------
    recipe : Recipe
        How to train a model like the target (:class:`~privaudit.reference.recipes.SklearnRecipe`, ``TorchRecipe``).
    pool : RecordSet
        Records the models may train on.
    keep_mask : ndarray of bool, shape (len(pool), n_models)
        Model ``k`` trains on ``pool`` rows ``keep_mask[:, k]`` (see :mod:`privaudit.reference.design`).
    query : RecordSet
        Records every model is asked about (e.g. audited then population records).
    store : ReferenceStore
    seed : int
        Run seed; model ``k`` uses ``model_seed(seed, k)``.
    backend : {"sequential", "process", "ray"}
    n_jobs : int, optional
        Parallel models (default: all cores of this machine, or of the local Ray instance).
    ray_address : str, optional
        Existing Ray cluster; default starts a local one.
    progress : callable, optional
        Called as ``progress(done, total, message)`` after the cache check and after each model.
        If it also has a ``work(done, total)`` method (as
        :class:`privaudit.progress.ReferenceTrainingProgress` does), that is called with
        fractional model counts — a running total, models found in the store included —
        first right after the cache check, then as backends report finished epochs (the
        ``ensemble`` backend: ``e / (E + 1)`` of each model in a chunk after epoch ``e`` of
        ``E``) and as models finish, so batched models show progress before they all finish.

    Returns
    -------
    ReferenceOutputs
    """
    keep = _check_inputs(pool, keep_mask, query)
    run = BACKENDS.get(backend)
    n_models = keep.shape[1]
    store.identity()
    store.clean_temporary()
    query_digest = records_digest(query)
    fingerprint = recipe.fingerprint()
    keys, tasks = model_keys(recipe, pool, keep, store, seed), []
    for k, key in enumerate(keys):
        rows = _training_rows(pool, keep, k)
        k_seed = model_seed(seed, k)
        if key in {t.key for t in tasks} or store.has_outputs(key, query_digest):
            continue
        kind = "query" if store.has_model(key) else "train"
        meta = {"format": STORE_FORMAT, "privaudit": __version__, "recipe": fingerprint, "seed": k_seed, "n_train": int(rows.size), "output_kind": recipe.output_kind}
        tasks.append(ModelTask(index=k, key=key, kind=kind, seed=k_seed, positions=rows, meta=meta))

    done = n_models - len(tasks)
    started = time.perf_counter()
    if progress is not None:
        progress(done, n_models, f"{done} of {n_models} reference models found in {store.root}")
    work = getattr(progress, "work", None)  # the optional finer report documented above
    finished = np.ones(n_models)  # fraction of each model done; those to train or query start at 0
    finished[[task.index for task in tasks]] = 0.0
    if work is not None:
        work(float(finished.sum()), n_models)

    def on_partial(indices, fraction: float) -> None:
        """Models ``indices`` are ``fraction`` (in [0, 1)) done; a late report never moves a model back."""
        finished[list(indices)] = np.maximum(finished[list(indices)], min(float(fraction), 1.0))
        if work is not None:
            work(float(finished.sum()), n_models)

    def on_done(result: TaskResult) -> None:
        nonlocal done
        if result.files is not None:
            store.save_files(result.key, result.files)
        if result.outputs is not None:
            store.save_outputs(result.key, query_digest, result.outputs)
        done += 1
        finished[result.index] = 1.0
        if progress is not None:
            verb = "trained" if result.kind == "train" else "queried"
            progress(done, n_models, f"model {result.index} {verb} in {result.seconds:.1f} s ({time.perf_counter() - started:.0f} s elapsed)")
        if work is not None:
            work(float(finished.sum()), n_models)

    run(recipe, pool, query, query_digest, tasks, store, n_jobs=n_jobs, ray_address=ray_address, on_done=on_done, on_partial=on_partial)
    shape = (len(query), len(query.classes))
    outputs = np.stack([store.load_outputs(key, query_digest, shape) for key in keys]) if keys else np.empty((0, *shape))
    trained = sum(t.kind == "train" for t in tasks)
    return ReferenceOutputs(
        outputs=outputs, output_kind=recipe.output_kind, model_keys=tuple(keys), trained=trained,
        reused=n_models - trained, queried=len(tasks) - trained, query_ids=np.asarray(query.ids),
    )
