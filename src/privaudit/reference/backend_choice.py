"""Choose the local backend for reference models by measurement.

:func:`choose_local_backend` times a few minibatch steps of the recipe's own
shapes — one model as ``train_classifier`` steps it, and K models at once as
the ensemble trainer does — and says which backend trains more models per
second on this machine, with a one-sentence reason for the log.
"""

from __future__ import annotations

import math
import time

import numpy as np

from privaudit.exceptions import ConfigError, require
from privaudit.models import TrainingConfig
from privaudit.reference.recipes import TorchRecipe
from privaudit.reference.ensemble import StackedMLP, ensemble_size, mlp_architecture, torch_threads

__all__ = ["choose_local_backend"]


def _median_step_times(steps: list, budget_s: float, max_rounds: int = 12) -> list[float]:
    """Median seconds per call of each function in ``steps``: one warm-up call each, then rounds that call
    each once in turn (so load changes on a shared machine hit all alike), at least 3, until ``budget_s``
    (warm-up included) or ``max_rounds``."""
    begun = time.perf_counter()
    for step in steps:
        step()
    times: list[list[float]] = [[] for _ in steps]
    for round_ in range(max_rounds):
        if round_ >= 3 and time.perf_counter() - begun > budget_s:
            break
        for step, record in zip(steps, times):
            start = time.perf_counter()
            step()
            record.append(time.perf_counter() - start)
    return [float(np.median(record)) for record in times]


def _single_step(architecture: dict, training: TrainingConfig):
    """One ``train_classifier`` minibatch step of one model on random data."""
    torch = require("torch", "torch")
    from privaudit.models import build_mlp

    module = build_mlp(**architecture)
    optimiser = torch.optim.Adam(module.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=training.label_smoothing)
    x = torch.randn(training.batch_size, architecture["n_inputs"])
    y = torch.randint(0, architecture["n_classes"], (training.batch_size,))

    def step():
        optimiser.zero_grad(set_to_none=True)
        loss_fn(module(x), y).backward()
        optimiser.step()

    return step


def _ensemble_step(architecture: dict, training: TrainingConfig, n_models: int):
    """One ensemble minibatch step of ``n_models`` models on random data."""
    torch = require("torch", "torch")
    from privaudit.models import build_mlp

    stacked = StackedMLP([build_mlp(**architecture) for _ in range(n_models)], range(n_models), dropout=architecture["dropout"], training=training)
    x = torch.randn(n_models, training.batch_size, architecture["n_inputs"])
    y = torch.randint(0, architecture["n_classes"], (n_models, training.batch_size))
    return lambda: stacked.step(x, y)


def choose_local_backend(recipe, n_models: int, n_jobs: int | None = None, *, budget_s: float = 1.0) -> tuple[str, str]:
    """Pick ``"ensemble"``, ``"process"`` or ``"sequential"`` for ``n_models`` models on this machine; returns ``(name, reason)``.

    Both parallel backends run one single-threaded worker per core, so the
    choice is made per core: for a build_mlp :class:`TorchRecipe` (or
    :class:`EnsembleRecipe`) it times minibatch steps of the recipe's own shapes
    on random data with one thread — one model as ``train_classifier`` steps it,
    and K models at once as the ensemble trainer does (K = the chunk size
    :func:`run_ensemble` would use) — and picks the ensemble when its models
    per second beat one model's. Otherwise, and for other recipes:
    ``"process"`` when ``n_jobs`` > 1, else ``"sequential"``. Takes about
    ``budget_s`` seconds, less when a step is slow (then the ensemble's saving,
    per-step overhead, cannot matter). The reason is one sentence for the log.
    Choosing ``"ensemble"`` means passing ``EnsembleRecipe(recipe)`` to the engine.
    """
    from privaudit.reference.worker_pool import default_jobs

    jobs = max(1, int(n_jobs or default_jobs()))
    fallback = "process" if jobs > 1 else "sequential"
    per_core = f"one model per core ({jobs} cores)" if jobs > 1 else "one model at a time"
    try:
        architecture = mlp_architecture(recipe)
    except ConfigError:
        ensemble_note = "; only build_mlp torch recipes can train as an ensemble" if isinstance(recipe, TorchRecipe) else ""
        return fallback, f"{fallback}: {per_core}{ensemble_note}"
    training = recipe.training
    size = min(ensemble_size(architecture, training, max(1, int(n_models))), math.ceil(max(1, int(n_models)) / jobs))
    if size < 2:
        return fallback, f"{fallback}: {per_core}; with {int(n_models)} model(s) on {jobs} core(s) an ensemble would hold one model"
    with torch_threads(1):
        single = _median_step_times([_single_step(architecture, training)], 0.0)[0]
        timed = min(size, int(budget_s / (5 * single)) - 1)  # a warm-up and 3 rounds of (1 + timed) model-steps fit the budget
        if timed < 2:
            return fallback, f"{fallback}: {per_core}; one minibatch step of one model takes {single * 1e3:.0f} ms, too slow to time an ensemble within {budget_s:g} s (and compute-bound: little per-step overhead for an ensemble to save)"
        single, together = _median_step_times([_single_step(architecture, training), _ensemble_step(architecture, training, timed)], budget_s)
    speedup = single * timed / together  # models per second of the ensemble over one model's, both on one core
    what = f"{size} models at once" + ("" if timed == size else f" (timed with {timed})")
    if speedup > 1.0:
        return "ensemble", f"ensemble: {what} measured {speedup:.1f}× the throughput of {per_core}"
    return fallback, f"{fallback}: {per_core} measured {1 / speedup:.1f}× the throughput of an ensemble of {what}"
