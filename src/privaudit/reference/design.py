"""Who trains on what: seeded in/out designs for reference models.

A design is a bool matrix ``keep`` of shape ``(n_records, n_models)``; ``keep[i, k]``
is True when record ``i`` is IN model ``k``'s training set. The engine trains
model ``k`` on exactly the rows ``keep[:, k]`` — the mask is the truth about who
was IN, and attacks read it unchanged.

Properties of :func:`reference_keep_mask`, all under one ``seed``:

* **rows exact** — every record is IN exactly ``k_in = ⌊fraction · n_models + ½⌋``
  models (rounded half up, so 0.5 · 5 models = 3), chosen at random per record
  as in the LiRA reference code (argsort of uniforms);
* **columns balanced** — the models' training-set sizes differ by at most one
  (``⌊n·k_in/n_models⌋`` or one more). LiRA's plain draw leaves them binomial;
  here entries are then swapped within rows (a record moves from the largest
  model to the smallest), which keeps every row's count and the randomness of
  which records share a model;
* **deterministic** — the same arguments give the same mask.

``train_size`` caps each model's training set. The cap is applied *in the
design*, never by silently dropping rows later: when the balanced size
``n·k_in/n_models`` exceeds ``train_size``, every record is IN
``k_in = ⌊train_size · n_models / n⌋`` models instead, so rows stay equal and
columns stay ≤ ``train_size``, but records are then IN fewer than half the
models (attacks still see it in the mask).

Examples
--------
>>> keep = reference_keep_mask(10, 4, seed=0)
>>> keep.shape, keep.sum(axis=1).tolist()
((10, 4), [2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
>>> sorted(keep.sum(axis=0).tolist())
[5, 5, 5, 5]
"""

from __future__ import annotations

import numpy as np

from privaudit.exceptions import ConfigError, DataError

__all__ = ["reference_keep_mask", "offline_keep_mask", "reference_design"]


def _models_per_record(n_records: int, n_models: int, fraction: float, train_size: int | None) -> int:
    if n_records < 1 or n_models < 1:
        raise ConfigError(f"a reference design needs at least one record and one model (got {n_records} records, {n_models} models)")
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"fraction must be in (0, 1], got {fraction}")
    k_in = int(np.floor(fraction * n_models + 0.5))
    if train_size is not None:
        if train_size < 1:
            raise ConfigError(f"train_size must be at least 1, got {train_size}")
        k_in = min(k_in, (int(train_size) * n_models) // n_records)
        if k_in == 0:
            raise ConfigError(
                f"train_size={train_size} is too small to put each of {n_records} records in at least one of {n_models} models; "
                f"it needs train_size ≥ {-(-n_records // n_models)} or more models"
            )
    return max(k_in, 1)


def _balanced_mask(n_records: int, n_models: int, k_in: int, rng: np.random.Generator) -> np.ndarray:
    # LiRA: per record, the k_in models with the smallest uniforms
    order = rng.random((n_records, n_models)).argsort(axis=1)
    keep = order < k_in
    # targets: the models that drew most get the leftover +1 (fewest moves)
    counts = keep.sum(axis=0)
    base, extra = divmod(n_records * k_in, n_models)
    target = np.full(n_models, base)
    target[np.argsort(-counts, kind="stable")[:extra]] += 1
    while True:
        surplus, deficit = np.flatnonzero(counts > target), np.flatnonzero(counts < target)
        if surplus.size == 0:
            return keep
        hi, lo = surplus[0], deficit[0]
        # |IN hi, OUT lo| ≥ counts[hi] − counts[lo] > 0, so a move always exists
        candidates = np.flatnonzero(keep[:, hi] & ~keep[:, lo])
        moves = min(counts[hi] - target[hi], target[lo] - counts[lo])
        rows = rng.choice(candidates, size=moves, replace=False)
        keep[rows, hi], keep[rows, lo] = False, True
        counts[hi] -= moves
        counts[lo] += moves


def reference_keep_mask(n_records: int, n_models: int, *, seed: int, fraction: float = 0.5, train_size: int | None = None,
                        groups=None) -> np.ndarray:
    """Online design: every record IN ``round(fraction · n_models)`` models, balanced model sizes.

    Parameters
    ----------
    n_records : int
        Records in the pool (audited records, plus population records if they are to be IN some models).
    n_models : int
        Reference models; at least 2, so that every record is both IN and OUT of some model.
    seed : int
    fraction : float, default 0.5
        Share of models each record is IN (rounded half up); must leave each record OUT of at least one model.
    train_size : int, optional
        Cap on each model's training-set size; lowers the IN share when needed (see module docstring).
    groups : array, shape (n_records,), optional
        Group (person) of each record: a group's records are IN or OUT of a model together. The design
        is then drawn over groups (every group IN ``k_in`` models, models balanced in groups), so a
        model's record count varies with its groups' sizes.

    Returns
    -------
    ndarray of bool, shape (n_records, n_models)
    """
    k_in = _models_per_record(n_records, n_models, fraction, train_size)
    if k_in >= n_models:
        raise ConfigError(
            f"with {n_models} reference model{'s' if n_models > 1 else ''} and fraction={fraction}, every record would be IN every model; "
            "online attacks need each record OUT of some models: use at least 2 models and fraction < 1"
        )
    rng = np.random.default_rng([int(seed), 0x0F1])
    if groups is None:
        return _balanced_mask(n_records, n_models, k_in, rng)
    _, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    if codes.size != n_records:
        raise DataError(f"{codes.size} group ids for {n_records} records in a reference design; give one group per record")
    return _balanced_mask(int(codes.max()) + 1, n_models, k_in, rng)[codes.ravel()]


def offline_keep_mask(n_population: int, n_models: int, *, seed: int, fraction: float = 0.5, train_size: int | None = None,
                      exact_train_size: bool = False) -> np.ndarray:
    """Offline design over population records only: same properties, but one model or ``fraction=1`` is allowed.

    The audited records are not in this pool at all, so every model is OUT for them.
    When ``train_size · n_models`` is below ``n_population`` (models trained on
    small subsets of a large population, like the demo's), each model instead
    draws ``train_size`` records uniformly on its own; some records are then
    IN no model, which offline attacks do not need. ``exact_train_size=True``
    (with ``train_size``) draws that way whatever the sizes, so every model
    trains on exactly ``train_size`` records (a reference model sized like its target).

    Returns
    -------
    ndarray of bool, shape (n_population, n_models)
    """
    rng = np.random.default_rng([int(seed), 0x0FF])
    if train_size is not None and (exact_train_size or train_size * n_models < n_population):
        # Too few seats for every population record to be IN some model: offline
        # attacks need no record to be IN, so each model draws its own
        # train_size records uniformly, independently of the others.
        if not 1 <= train_size <= n_population:
            raise ConfigError(f"train_size must be between 1 and the {n_population} population records, got {train_size}")
        keep = np.zeros((n_population, n_models), dtype=bool)
        for k in range(n_models):
            keep[rng.choice(n_population, size=int(train_size), replace=False), k] = True
        return keep
    k_in = _models_per_record(n_population, n_models, fraction, train_size)
    return _balanced_mask(n_population, n_models, k_in, rng)


def reference_design(data, n_models: int, *, seed: int, mode: str = "online", include_population: bool = True, fraction: float = 0.5, train_size: int | None = None,
                     exact_train_size: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Pool and mask for an :class:`~privaudit.data.AuditData`.

    ``mode="online"``: the pool is members, non-members, then population records
    (when ``include_population``), each IN about ``fraction`` of the models.
    ``mode="offline"``: the pool is the population records only, which never include audited records;
    ``exact_train_size`` (offline only) trains every model on exactly ``train_size`` of them (:func:`offline_keep_mask`).

    Returns
    -------
    pool : ndarray of int, shape (n_pool,)
        Positions into ``data.records``; pass ``data.records.subset(pool)`` to the engine.
    keep : ndarray of bool, shape (n_pool, n_models)
    """
    if mode == "online":  # with person ids (data.person_column), a person's records are IN or OUT together
        pool = np.concatenate([data.audited, data.population]) if include_population else data.audited
        groups = None if getattr(data, "person_ids", None) is None else data.person_ids[pool]
        return pool, reference_keep_mask(pool.size, n_models, seed=seed, fraction=fraction, train_size=train_size, groups=groups)
    if mode == "offline":
        if data.population.size == 0:
            raise DataError(f"{data.source}: offline reference models train on population records, and there are none; mark some records as population")
        return data.population.copy(), offline_keep_mask(data.population.size, n_models, seed=seed, fraction=fraction, train_size=train_size,
                                                     exact_train_size=exact_train_size)
    raise ConfigError(f"reference mode must be 'online' or 'offline', not '{mode}'")
