"""From an audit's data to the :class:`~privaudit.attacks.reference.ReferenceSignals` attacks read.

:class:`ReferencePlan` says how many reference models to train, how (a
recipe), on which records (online or offline design) and where (store,
backend). :func:`reference_signals` runs the engine and turns every model's
outputs into signals on the audited records (rows in ``data.audited`` order)
and on the population records z.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from privaudit.exceptions import ConfigError

__all__ = ["ReferencePlan", "ReferenceSize", "reference_signals", "plans_from_config", "resolve_reference_size", "LOCAL_BACKENDS"]

#: what ``backend="local"`` may resolve to
LOCAL_BACKENDS = ("sequential", "process", "ensemble")


@dataclass(frozen=True)
class ReferencePlan:
    """How to train the reference models for one target.

    Parameters
    ----------
    recipe : Recipe
        Trains one model like the target (``SklearnRecipe``, ``TorchRecipe``).
    n_models : int
        Number of reference models (LiRA online wants ≥ 16; RMIA works with 1–2).
    mode : {"online", "offline"}
        ``online``: audited and population records are each IN about
        ``fraction`` of the models; ``offline``: models train on population
        records only, so every audited record is OUT of every model.
    fraction : float
        Share of the pool each record is IN (online) / each model trains on.
    train_size : int, optional
        Cap each model's training set (e.g. at the target's training-set
        size, so reference models are trained "like the target").
    include_population : bool
        Online only: population records join the pool (they then serve as
        RMIA's z records with IN and OUT models of their own).
    store : str or Path
        Cache folder: finished models are reused across runs.
    backend : {"local", "sequential", "process", "ensemble", "ray"}
        ``local`` chooses by measurement
        (:func:`privaudit.reference.ensemble.choose_local_backend`): the
        batched-ensemble trainer for ``build_mlp`` torch recipes when its
        measured throughput beats one model per core, else ``process`` on
        more than one core, else ``sequential``; the reason is logged.
    n_jobs : int, optional
    ray_address : str, optional
    output_defence : OutputDefence, optional
        The target's output defence; applied to every reference model's
        outputs too, so they answer like the target does.
    field : str
        Where the plan comes from in a config (named in errors), e.g. ``targets.model.reference``.
    choice : str, optional
        What privaudit chose for this plan and why (``mode: auto``, ``train_size: members``), one sentence;
        shown in the progress output and recorded in the result's reference info.
    exact_train_size : bool
        Offline only: every model trains on exactly ``train_size`` population records, drawn
        independently per model (:func:`privaudit.reference.design.offline_keep_mask`); set for ``train_size: members``.
    precomputed : PrecomputedReferences, optional
        Models trained elsewhere (``reference: {outputs: refs.npz}``,
        :mod:`privaudit.reference.precomputed`): their outputs and ``keep`` masks replace training.
    """

    recipe: object
    n_models: int = 16
    mode: str = "online"
    fraction: float = 0.5
    train_size: int | None = None
    include_population: bool = True
    store: str | Path = ".privaudit-cache"
    backend: str = "local"
    n_jobs: int | None = None
    ray_address: str | None = None
    output_defence: object | None = None
    field: str = "reference"
    choice: str | None = None
    exact_train_size: bool = False
    precomputed: object | None = None

    def __post_init__(self) -> None:
        if self.n_models < 1:
            raise ConfigError(f"reference models: need at least 1, got {self.n_models}")
        if self.mode not in ("online", "offline"):
            raise ConfigError(f"reference mode must be 'online' or 'offline', not '{self.mode}'")
        if self.backend not in ("local", "sequential", "process", "ensemble", "ray"):
            raise ConfigError(f"reference backend must be local, sequential, process, ensemble or ray, not '{self.backend}'")

    def resolve(self, stored=None) -> tuple[str, object, str]:
        """``(backend, recipe to train with, reason)``; the ensemble backend trains an ``EnsembleRecipe``
        (its own store keys: ensemble-trained models are not bit-identical to sequentially trained ones).

        ``stored(recipe) -> bool`` (optional) says whether the store already holds every model of the run
        under ``recipe``'s keys: ``backend="local"`` then reuses those models, whichever backend trained
        them, instead of choosing by a new measurement — so a rerun gives the same models, and the same figures.
        """
        from privaudit.reference.backend_choice import choose_local_backend
        from privaudit.reference.ensemble import EnsembleRecipe
        from privaudit.reference.worker_pool import default_jobs

        if self.backend == "local" and stored is not None:
            plain = self.recipe.recipe if isinstance(self.recipe, EnsembleRecipe) else self.recipe
            fallback = "process" if max(1, int(self.n_jobs or default_jobs())) > 1 else "sequential"
            for backend, recipe in ((fallback, plain), ("ensemble", plain)):
                if backend == "ensemble":
                    try:
                        recipe = EnsembleRecipe(plain)
                    except ConfigError:  # not a build_mlp torch recipe: it never trains as an ensemble
                        continue
                if stored(recipe):
                    return backend, recipe, (f"{backend}: all {self.n_models} models are in the store (trained "
                                             f"{'as an ensemble' if backend == 'ensemble' else 'one at a time'}), reused as they are")
        if self.backend == "local":
            backend, reason = choose_local_backend(self.recipe, self.n_models, self.n_jobs)
        else:
            backend, reason = self.backend, f"{self.backend}: as configured"
        recipe = EnsembleRecipe(self.recipe) if backend == "ensemble" and not isinstance(self.recipe, EnsembleRecipe) else self.recipe
        return backend, recipe, reason


def _in_mask_on(query_ids: np.ndarray, pool_ids: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Rows of ``keep`` for the query records, matched by record id (False for records outside the pool)."""
    import pandas as pd

    mask = np.zeros((len(query_ids), keep.shape[1]), dtype=bool)
    rows = pd.Index(np.asarray(pool_ids).astype(str)).get_indexer(np.asarray(query_ids).astype(str))
    inside = rows >= 0
    mask[inside] = keep[rows[inside]]
    return mask


def reference_signals(
    plan: ReferencePlan,
    data,
    names: list[str],
    *,
    target_population_signals: Mapping[str, np.ndarray] | None,
    seed: int,
    progress: Callable[[int, int, str], None] | None = None,
    query=None,
    design=None,
    augmented: Sequence[tuple] = (),
):
    """Train (or reuse) the plan's models and compute signals ``names`` from their outputs.

    ``query``: a :class:`~privaudit.data.RecordSet` to score instead of the
    audited records (``privaudit check``: records that need not be in
    ``data``); a query record is IN a model when its record id is in that
    model's training set. ``design``: a precomputed ``(pool RecordSet, keep
    mask)`` to train on instead of the plan's own design (an online check's,
    :func:`~privaudit.reference.check_design.check_online_design`).
    ``augmented``: ``(Augmentations, signal names, with_population)`` triples: the
    models are also asked about the Q augmented copies of every audited record
    (and of every population record when ``with_population``) in the same pass,
    and signal ``name`` on them is returned under ``name@<key>``
    (:func:`~privaudit.augmentations.augmented_signal_key`), shape
    ``(n_audited, n_models, Q)`` (population ``(n_population, n_models, Q)``).

    Returns
    -------
    ReferenceSignals
        ``signals[name]`` shape ``(n_audited, n_models)``; population arrays
        ``(n_population, n_models)`` when ``data`` has population records.
    outputs : ReferenceOutputs
        What the engine did (trained / reused counts, store keys).
    backend : str
        The backend that ran (``local`` resolved by measurement).
    """
    from privaudit.reference.design import reference_design
    from privaudit.reference.engine import all_stored, train_reference_models
    from privaudit.reference.model_signals import reference_query_records, signals_of_models
    from privaudit.reference.store import ReferenceStore

    if plan.precomputed is not None:
        from privaudit.reference.model_signals import precomputed_reference_signals

        return precomputed_reference_signals(plan, data, names, target_population_signals, query=query, design=design, augmented=augmented)
    if data.records.features.shape[1] == 0:
        raise ConfigError(
            f"{plan.field}: the data file {getattr(data, 'source', 'data.path')} has no feature columns to train reference models on; "
            "add the feature columns to data.path (or list them in data.features), or remove the reference block"
        )
    if design is None:
        pool, keep = reference_design(
            data, plan.n_models, seed=seed, mode=plan.mode, include_population=plan.include_population,
            fraction=plan.fraction, train_size=plan.train_size, exact_train_size=plan.exact_train_size,
        )
        pool_records = data.records.subset(pool)
    else:
        pool_records, keep = design
    query_records, n_audited = reference_query_records(data, query)
    n_plain = len(query_records)
    if augmented:
        query_records, segments = _with_augmented_copies(query_records, n_audited, augmented)
        names = sorted(set(names) | {name for _, more, _ in augmented for name in more})
    store = ReferenceStore(plan.store)
    backend, recipe, reason = plan.resolve(stored=lambda candidate: all_stored(candidate, pool_records, keep, store, seed))
    if progress is not None:
        progress(0, plan.n_models, f"backend {reason}")
    outputs = train_reference_models(
        recipe, pool_records, keep, query_records,
        store=store, seed=seed, backend=backend,
        n_jobs=plan.n_jobs, ray_address=plan.ray_address, progress=progress,
    )
    signals = signals_of_models(
        plan, data, names, target_population_signals, query_records, n_audited, n_plain,
        lambda k: outputs.outputs[k], outputs.output_kind, _in_mask_on(query_records.ids, pool_records.ids, keep), outputs.model_keys,
        segments if augmented else (),
    )
    return signals, outputs, backend


def _with_augmented_copies(query_records, n_audited: int, augmented: Sequence[tuple]):
    """``query_records`` followed by the augmented copies of its audited part (and population part, where asked).

    Returns the longer record set and one ``(key, start row, n records, Q, is population)`` per appended segment.
    """
    from privaudit.data import concat_records

    audited, population = query_records.subset(np.arange(n_audited)), query_records.subset(np.arange(n_audited, len(query_records)))
    parts, segments, start = [query_records], [], len(query_records)
    for augmentations, _, with_population in augmented:
        for records, is_population in ((audited, False), (population, True)):
            if is_population and (not with_population or len(records) == 0):
                continue
            parts.append(augmentations.apply(records))
            segments.append((augmentations.key, start, len(records), augmentations.n_queries, is_population))
            start += len(parts[-1])
    return concat_records(parts), segments


@dataclass(frozen=True)
class ReferenceSize:
    """What a config's reference block comes to on the audit's data (:func:`resolve_reference_size`)."""

    mode: str
    train_size: int | None
    include_population: bool
    exact_train_size: bool = False
    #: one sentence saying what privaudit chose and why (None when the block fixes everything)
    choice: str | None = None


def resolve_reference_size(ref, data, field: str) -> ReferenceSize:
    """Resolve ``train_size: members`` and ``mode: auto`` of a config's reference block on ``data``.

    ``members`` is the number of members (the target's training size, M). ``auto`` becomes
    ``offline`` when the population holds at least 2·M records: each model trains on exactly
    M population records, drawn per model, and no audited record is IN any model. Otherwise
    ``online``: each record IN about half the models, the pool being the audited records,
    plus the population only while the pool stays within 2·M (``include_population``), so a
    model trains on at most M records.
    """
    if data is None:
        if ref.mode == "auto" or ref.train_size == "members":
            raise ConfigError(f"{field}: mode auto and train_size members are resolved against the audit's data; pass data= to plans_from_config")
        return ReferenceSize(ref.mode, ref.train_size, ref.include_population)
    n_members, n_population, n_audited = int(data.members.size), int(data.population.size), int(data.audited.size)
    members = ref.train_size == "members"
    size = n_members if members else ref.train_size
    if size is not None and size < 2:
        raise ConfigError(f"{field}.train_size: members means as many records as the target's {n_members} members, too few to train on; give a number")
    if ref.mode != "auto" and not members:
        return ReferenceSize(ref.mode, size, ref.include_population)
    limit = size if size is not None else n_members
    mode = ref.mode if ref.mode != "auto" else ("offline" if n_population >= 2 * limit else "online")
    like = f" (the target's {_thousands(n_members)} members)" if members else ""
    if mode == "offline":
        if members and n_population < size:
            raise ConfigError(f"{field}.train_size: members means {_thousands(size)} records per model, but offline models draw from only "
                              f"{_thousands(n_population)} population records; use mode: auto (or online), or give a smaller train_size")
        why = "; the population holds at least twice that, so no audited record trains any model" if ref.mode == "auto" else ""
        drawn = f"{_thousands(size)} records per model{like}" if size is not None else "a share of the records per model"
        return ReferenceSize("offline", size, ref.include_population, exact_train_size=members,
                             choice=f"offline, {drawn}, drawn from {_thousands(n_population)} population records{why}")
    include = ref.include_population and (ref.mode != "auto" or n_audited + n_population <= 2 * limit)
    pool = n_audited + (n_population if include else 0)
    why = ""
    if ref.mode == "auto":
        why = f"; {_thousands(n_population)} population records are fewer than twice that, too few for offline models"
        if ref.include_population and not include:
            why += ", and are left out of the pool to keep the models that size"
    share = f"at most {_thousands(size)} records per model{like}" if size is not None else "half the pool per model"
    return ReferenceSize("online", size, include,
                         choice=f"online, {share}, from {_thousands(pool)} audited{' and population' if include else ''} records{why}")


def _thousands(n: int | None) -> str:
    """``n`` with thousands separators (``12,200``)."""
    return f"{int(n):,}" if n is not None else "all"


def plans_from_config(config, base_dir: str | Path, *, data=None) -> dict[str, ReferencePlan]:
    """One :class:`ReferencePlan` per target whose config has a ``reference`` block.

    Recipes follow the target type's ``reference_recipe``: ``"training"`` (torch)
    trains the target's factory, ``factory_kwargs`` and transform with
    ``reference.training``; ``"estimator"`` clones ``reference.estimator`` (a skops
    file) or, for scikit-learn targets, by default the target's own estimator.
    ``data`` (the loaded :class:`~privaudit.data.AuditData`) resolves
    ``train_size: members`` and ``mode: auto`` (:func:`resolve_reference_size`);
    every run from a config passes it (a block using either needs it).
    A target's ``output_defence`` applies to its reference models' outputs too.
    """
    from privaudit.reference.recipes import SklearnRecipe, TorchRecipe
    from privaudit.targets.base import load_skops, load_transform
    from privaudit.targets.output_defence import OutputDefence

    base_dir = Path(base_dir)
    compute = config.compute
    store = Path(compute.store)
    store = store if store.is_absolute() else base_dir / store
    plans = {}
    for target in config.targets:
        ref = target.reference if target.reference_recipe is not None else None  # types that train no reference models have none
        if ref is None:
            continue
        field = f"targets.{target.name}.reference"
        if ref.outputs is not None:
            defence = None if target.output_defence is None else OutputDefence(**target.output_defence.model_dump())
            plans[target.name] = _precomputed_plan(ref.outputs, base_dir, data, field, store, defence)
            continue
        trusted = list(target.trusted_types or [])
        if target.reference_recipe == "training":
            spec = target.model_dump()
            recipe = TorchRecipe(
                target.factory, target.factory_kwargs or {}, ref.training.to_training_config(),
                transform=load_transform(spec, base_dir, f"targets.{target.name}"),
                output_kind=target.outputs or "logits", base_dir=base_dir, trust_code=config.trust_code,
            )
        else:
            path = ref.estimator or target.path
            estimator = load_skops(base_dir / path, trusted, f"{field}.estimator" if ref.estimator else f"targets.{target.name}.path",
                                   f"targets.{target.name}.trusted_types")
            recipe = SklearnRecipe(estimator, trusted_types=trusted, trusted_key=f"targets.{target.name}.trusted_types")
        size = resolve_reference_size(ref, data, field)
        plans[target.name] = ReferencePlan(
            recipe, n_models=ref.models, mode=size.mode, fraction=ref.fraction, train_size=size.train_size,
            include_population=size.include_population, store=store, backend=compute.backend,
            n_jobs=compute.n_jobs, ray_address=compute.ray_address,
            output_defence=None if target.output_defence is None else OutputDefence(**target.output_defence.model_dump()),
            field=field, choice=size.choice, exact_train_size=size.exact_train_size,
        )
    return plans


def _precomputed_plan(path: str, base_dir: Path, data, field: str, store: Path, output_defence=None) -> ReferencePlan:
    """A plan that reads ``reference.outputs`` (checked against ``data``) instead of training; online when any audited record is IN a model.

    The target's output defence applies to these outputs too, as to models privaudit trains (they answer like the target).
    """
    from privaudit.reference.precomputed import check_online_keep, check_reference_ids, load_reference_outputs
    from privaudit.shared_paths import shareable_path

    refs = load_reference_outputs(base_dir / path, field=f"{field}.outputs", n_classes=None if data is None else len(data.records.classes),
                                  n_records=None if data is None else data.audited.size + data.population.size)
    if data is not None:
        check_reference_ids(refs, data)
        audited_in = refs.keep[:, refs.rows_for(data.records.ids[data.audited])].any()
    else:
        audited_in = refs.keep.any()
    mode = "online" if audited_in else "offline"
    if audited_in and data is not None:
        check_online_keep(refs, data.records.ids[data.audited])
    return ReferencePlan(None, n_models=refs.n_models, mode=mode, store=store, field=field, precomputed=refs, output_defence=output_defence,
                         choice=f"{mode}, {refs.n_models} models trained elsewhere, outputs from {shareable_path(str(path), base_dir)}")  # no local path in reports

