"""Train K ``privaudit.models:build_mlp`` reference models at once: one forward/backward for all K.

The K models' weights are stacked — layer ``l`` holds ``W_l`` of shape
``(K, in, out)`` and ``b_l`` of shape ``(K, 1, out)`` — and a step runs
``torch.baddbmm`` on a ``(K, B, d)`` batch in which model ``k`` sees its own
minibatch of its own training rows. Everything else follows
:func:`privaudit.models.train_classifier`, model by model:

* initial weights: ``torch.manual_seed(seed_k)`` then ``build_mlp(...)`` (the same draw as
  :meth:`TorchRecipe.train <privaudit.reference.recipes.TorchRecipe.train>`);
* order: each epoch ``torch.randperm(n_k, generator)`` from a generator seeded with ``seed_k``;
* loss: cross-entropy with the recipe's label smoothing, averaged over model ``k``'s minibatch and
  *summed* over the K models, so model ``k``'s gradient is exactly its own loss's gradient;
* optimiser: one ``torch.optim.Adam`` (with weight decay) over the stacked tensors, in its fused
  form (one pass per element, where this torch has it). Adam and its weight decay act element by
  element, so this is K independent Adams — as long as every model takes a step at every step (a
  model that sat a step out would still move by its momentum).

Different training-set sizes: models whose sets need the same number of
minibatches per epoch (``ceil(n_k / batch_size)``) train together, and a
shorter last minibatch is padded with rows whose loss weight is 0 (they add
nothing to any gradient); :func:`run_ensemble` puts models with different
counts into different chunks. Dropout masks come from a per-model generator,
so a model's training depends on its seed and data, never on which models
shared its chunk — but they are not the masks ``train_classifier`` draws.

Without dropout the result therefore equals sequential training up to float
rounding (tests: within 1e-6 after one step and 1e-5 after three epochs; ~1e-7
is typical) but is *not* bit-identical to it. Models trained here are stored under keys of :class:`EnsembleRecipe`,
whose fingerprint adds ``{"trainer": "ensemble"}`` to the wrapped recipe's, so a
store never hands an ensemble-trained model to a sequential run or the reverse.
The keys are formed by the engine from the recipe it is given, so a caller
choosing ``backend="ensemble"`` passes ``EnsembleRecipe(recipe)``;
:func:`run_ensemble` refuses a bare recipe rather than store models under the
wrong key. Each model is saved exactly like a :class:`TorchRecipe` model
(safetensors of a ``build_mlp`` module, the same state-dict keys), so
``TorchRecipe.load`` and :class:`~privaudit.targets.TorchTarget` read it.

:func:`run_ensemble` (backend ``ensemble``) spreads chunks of up to
:data:`MAX_ENSEMBLE` models over worker processes, one thread each, and
:func:`choose_local_backend` times a few steps of one model and of an ensemble
on this machine and says which backend to use and why. torch is imported only
inside functions.

Example
-------
>>> from privaudit.models import TrainingConfig
>>> from privaudit.reference import TorchRecipe
>>> recipe = EnsembleRecipe(TorchRecipe("privaudit.models:build_mlp", {"n_inputs": 3, "n_classes": 2, "hidden": [8]},
...                                     TrainingConfig(epochs=2)))
>>> recipe.fingerprint()["trainer"]
'ensemble'
"""

from __future__ import annotations

import inspect
import math
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from privaudit.exceptions import ConfigError, DataError, TargetError, require
from privaudit.models import TrainingConfig
from privaudit.reference.store import ReferenceStore
from privaudit.reference.worker import TaskResult, init_process_worker, limit_threads, run_task

__all__ = [
    "MLP_FACTORY",
    "MAX_ENSEMBLE",
    "EnsembleRecipe",
    "mlp_architecture",
    "ensemble_size",
    "train_mlp_ensemble",
    "run_ensemble",
    "choose_local_backend",
]

#: The only factory the ensemble trainer knows how to stack.
MLP_FACTORY = "privaudit.models:build_mlp"
#: Most models trained at once.
MAX_ENSEMBLE = 32
#: Memory one chunk may take (weights, gradients, Adam moments and activations), bytes. Kept modest: on one
#: core the 2 × 512 Adult MLP (~10 MB per model by this count) trained equally fast per model at K = 8 … 24
#: and ~20 % slower at K = 32 (measured on a 2-core AMD EPYC, torch 2.13).
MEMORY_BUDGET = 256 << 20
_PREDICT_BATCH = 4096  # as TorchRecipe.predict


def mlp_architecture(recipe) -> dict:
    """``{"n_inputs", "n_classes", "hidden", "dropout"}`` of a build_mlp torch recipe; anything else raises ConfigError."""
    from privaudit.models import build_mlp
    from privaudit.reference.recipes import TorchRecipe

    if isinstance(recipe, EnsembleRecipe):
        recipe = recipe.recipe
    if not isinstance(recipe, TorchRecipe) or recipe.factory != MLP_FACTORY:
        what = f"a TorchRecipe with factory '{recipe.factory}'" if isinstance(recipe, TorchRecipe) else type(recipe).__name__
        raise ConfigError(f"the ensemble trainer trains only TorchRecipe models with factory '{MLP_FACTORY}', not {what}; use backend 'sequential' or 'process'")
    try:
        bound = inspect.signature(build_mlp).bind(**recipe.factory_kwargs)
    except TypeError as exc:
        raise ConfigError(f"factory_kwargs {recipe.factory_kwargs} do not fit {MLP_FACTORY}: {exc}") from None
    bound.apply_defaults()
    args = bound.arguments
    return {"n_inputs": int(args["n_inputs"]), "n_classes": int(args["n_classes"]), "hidden": [int(h) for h in args["hidden"]], "dropout": float(args["dropout"])}


class EnsembleRecipe:
    """A build_mlp :class:`~privaudit.reference.recipes.TorchRecipe` whose models the ensemble trainer trains.

    Parameters
    ----------
    recipe : TorchRecipe
        With ``factory="privaudit.models:build_mlp"``; an ``EnsembleRecipe`` is unwrapped.

    Everything but training is the wrapped recipe's (``predict``, ``save``,
    ``load``, ``output_kind``); ``fingerprint()`` adds ``"trainer": "ensemble"``
    so these models get their own store keys. ``train`` (one model, used by the
    other backends) runs the ensemble trainer with K = 1, so a key always
    names the trainer that made the model.
    """

    def __init__(self, recipe) -> None:
        if isinstance(recipe, EnsembleRecipe):
            recipe = recipe.recipe
        mlp_architecture(recipe)
        self.recipe = recipe
        self.output_kind = recipe.output_kind

    @property
    def architecture(self) -> dict:
        return mlp_architecture(self.recipe)

    @property
    def training(self) -> TrainingConfig:
        return self.recipe.training

    def fingerprint(self) -> dict:
        return {**self.recipe.fingerprint(), "trainer": "ensemble"}

    def inputs(self, features) -> np.ndarray:
        """The float32 ``(n, n_inputs)`` array the wrapped recipe feeds its module (its transform applied)."""
        return self.recipe._inputs(features)

    def train(self, features, labels: np.ndarray, seed: int):
        inputs = self.inputs(features)
        return train_mlp_ensemble(inputs, np.asarray(labels), [np.arange(len(inputs))], [int(seed)], architecture=self.architecture, training=self.training)[0]

    def predict(self, model, features) -> np.ndarray:
        return self.recipe.predict(model, features)

    def save(self, model, directory) -> None:
        self.recipe.save(model, directory)

    def load(self, directory):
        return self.recipe.load(directory)


def _mlp_parameters(architecture: dict) -> int:
    widths = [architecture["n_inputs"], *architecture["hidden"], architecture["n_classes"]]
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))


def ensemble_size(architecture: dict, training: TrainingConfig, n_models: int, *, memory_budget: int = MEMORY_BUDGET) -> int:
    """Models per chunk: at most :data:`MAX_ENSEMBLE` and what fits ``memory_budget``, balanced over the chunks.

    Per model: 4 bytes × (4 × parameters — weights, gradients, two Adam moments — plus
    ~3 × the minibatch's activations and its inputs).
    """
    parameters = _mlp_parameters(architecture)
    activations = training.batch_size * (architecture["n_inputs"] + 3 * (sum(architecture["hidden"]) + architecture["n_classes"]))
    fits = max(1, memory_budget // (4 * (4 * parameters + activations)))
    largest = max(1, min(MAX_ENSEMBLE, int(n_models), int(fits)))
    chunks = math.ceil(max(1, int(n_models)) / largest)
    return math.ceil(max(1, int(n_models)) / chunks)


def train_mlp_ensemble(inputs: np.ndarray, labels: np.ndarray, rows: Sequence[np.ndarray], seeds: Sequence[int], *, architecture: dict, training: TrainingConfig) -> list:
    """Train ``len(rows)`` build_mlp models together; returns them as ``build_mlp`` modules in eval mode.

    Parameters
    ----------
    inputs : ndarray of float32, shape (n, n_inputs)
        Encoded records shared by all models.
    labels : ndarray of int, shape (n,)
        Class indices.
    rows : sequence of K int arrays
        Model ``k`` trains on ``inputs[rows[k]]`` in that order (as if it were its whole training set).
    seeds : sequence of K int
        Model ``k``'s seed (initial weights, minibatch order, dropout).
    architecture : dict
        ``build_mlp`` arguments (see :func:`mlp_architecture`).
    training : TrainingConfig
        ``patience`` must be 0: no early stopping.

    Every model needs the same number of minibatches per epoch, ``ceil(len(rows[k]) / batch_size)``.
    Uses this process's torch thread setting.
    """
    torch = require("torch", "torch")
    from privaudit.models import build_mlp

    if training.patience:
        raise ConfigError("the ensemble trainer runs a fixed number of epochs; early stopping (patience > 0) is not supported — set patience=0 or use backend 'sequential'")
    rows = [np.asarray(r, dtype=np.int64) for r in rows]
    if len(rows) != len(seeds) or not rows:
        raise DataError(f"give one row array per seed: {len(rows)} row arrays, {len(seeds)} seeds")
    sizes = np.array([r.size for r in rows])
    batch = int(training.batch_size)
    steps = {math.ceil(n / batch) for n in sizes}
    if sizes.min() < 1 or len(steps) != 1:
        raise DataError(f"models trained together need non-empty training sets with the same number of minibatches per epoch; sizes {sorted(set(sizes.tolist()))} give {sorted(steps)}")
    n_steps, n_models = steps.pop(), len(rows)
    x = torch.from_numpy(np.require(inputs, dtype=np.float32, requirements=["C"]))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    if x.ndim != 2 or x.shape[1] != architecture["n_inputs"] or y.shape != (x.shape[0],):
        raise DataError(f"inputs {tuple(x.shape)} and labels {tuple(y.shape)} do not fit an MLP with {architecture['n_inputs']} inputs")

    modules = []
    for seed in seeds:  # the initial weights TorchRecipe.train draws for this seed
        torch.manual_seed(int(seed))
        modules.append(build_mlp(**architecture))
    stacked = _StackedMLP(modules, seeds, dropout=architecture["dropout"], training=training)
    order_generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    row_tensors = [torch.from_numpy(r) for r in rows]
    padded = n_steps * batch
    weight_of_row = torch.zeros(n_models, padded)  # 1 / (model k's minibatch size) on its rows, 0 on padding
    for k, n in enumerate(sizes):
        for start in range(0, n, batch):
            weight_of_row[k, start : min(start + batch, n)] = 1.0 / (min(start + batch, n) - start)
    uneven = bool((sizes != padded).any())
    for _ in range(int(training.epochs)):
        index = torch.zeros(n_models, padded, dtype=torch.int64)
        for k in range(n_models):
            index[k, : sizes[k]] = row_tensors[k][torch.randperm(int(sizes[k]), generator=order_generators[k])]
        for step in range(n_steps):
            start = step * batch
            width = int(min(batch, sizes.max() - start))
            chosen = index[:, start : start + width]
            stacked.step(x[chosen], y[chosen], weight_of_row[:, start : start + width] if uneven else None)
    return stacked.into(modules)


class _StackedMLP:
    """K build_mlp modules' weights stacked for ``baddbmm``, with one Adam over them (see the module docstring)."""

    def __init__(self, modules: list, seeds: Sequence[int], *, dropout: float, training: TrainingConfig) -> None:
        torch = require("torch", "torch")
        self.torch = torch
        linears = [[m for m in module if isinstance(m, torch.nn.Linear)] for module in modules]
        depth = len(linears[0])
        # layer i: W (K, in, out) = each module's weight transposed; b (K, 1, out)
        self.weights = [torch.stack([ls[i].weight.detach().t() for ls in linears]).contiguous().requires_grad_() for i in range(depth)]
        self.biases = [torch.stack([ls[i].bias.detach()[None, :] for ls in linears]).contiguous().requires_grad_() for i in range(depth)]
        params = [p for pair in zip(self.weights, self.biases) for p in pair]
        try:  # fused (torch >= 2.4 on CPU): one pass over the state instead of several; the same update elementwise
            self.optimiser = torch.optim.Adam(params, lr=training.learning_rate, weight_decay=training.weight_decay, fused=True)
        except (RuntimeError, TypeError, ValueError):  # pragma: no cover - older torch
            self.optimiser = torch.optim.Adam(params, lr=training.learning_rate, weight_decay=training.weight_decay)
        self.label_smoothing = training.label_smoothing
        self.dropout = float(dropout)
        self.dropout_generators = [torch.Generator().manual_seed(int(s) + 1) for s in seeds] if dropout > 0 else []

    def step(self, x, y, row_weight=None) -> None:
        """One Adam step on inputs ``x`` (K, B, d) and labels ``y`` (K, B).

        ``row_weight`` (K, B): each row's weight in its model's loss (1 / minibatch size, 0 for padding);
        None means every row is real and each model's loss is its mean over B.
        """
        torch, functional = self.torch, self.torch.nn.functional
        n_models, width = y.shape
        h = x
        for layer in range(len(self.weights) - 1):
            h = torch.baddbmm(self.biases[layer], h, self.weights[layer]).relu_()
            if self.dropout > 0:
                keep = torch.stack([torch.rand(h.shape[1:], generator=g) >= self.dropout for g in self.dropout_generators])
                h = h * keep / (1.0 - self.dropout)
        logits = torch.baddbmm(self.biases[-1], h, self.weights[-1])
        losses = functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none", label_smoothing=self.label_smoothing)
        loss = losses.sum() / width if row_weight is None else (losses.view(n_models, width) * row_weight).sum()
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()

    def into(self, modules: list) -> list:
        """Copy model k's weights into ``modules[k]``; returns them in eval mode."""
        torch = self.torch
        with torch.no_grad():
            for k, module in enumerate(modules):
                for i, linear in enumerate(m for m in module if isinstance(m, torch.nn.Linear)):
                    linear.weight.copy_(self.weights[i][k].t())
                    linear.bias.copy_(self.biases[i][k, 0])
        return [module.eval() for module in modules]


@contextmanager
def _torch_threads(n: int):
    torch = require("torch", "torch")
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _predict(module, inputs: np.ndarray) -> np.ndarray:
    """What ``TorchRecipe.predict`` returns, on inputs encoded once for all models."""
    torch = require("torch", "torch")
    with torch.no_grad():
        chunks = [module(torch.from_numpy(inputs[i : i + _PREDICT_BATCH])).double().numpy() for i in range(0, len(inputs), _PREDICT_BATCH)]
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


def _train_chunk(shared: _Shared, store, chunk: list) -> list[TaskResult]:
    """Train one chunk together and store each model as :func:`~privaudit.reference.worker.run_task` does."""
    recipe = shared.recipe
    start = time.perf_counter()
    rows = [np.searchsorted(shared.positions, task.positions) for task in chunk]
    modules = train_mlp_ensemble(shared.inputs, shared.labels, rows, [task.seed for task in chunk], architecture=recipe.architecture, training=recipe.training)
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


def _init_chunk_worker(shared: _Shared, store_root: str, driver: int) -> None:
    """Pool worker: what every pool worker does (one thread, ignore Ctrl-C, exit with the driver), and hold ``shared``."""
    init_process_worker(shared.recipe, None, None, shared.query_digest, store_root, driver)
    _CHUNK_WORKER.update(shared=shared, store=ReferenceStore(store_root))


def _train_chunk_in_worker(chunk: list) -> list[TaskResult]:
    limit_threads()
    return _train_chunk(_CHUNK_WORKER["shared"], _CHUNK_WORKER["store"], chunk)


def run_ensemble(recipe, pool, query, query_digest: str, tasks: list, store, *, n_jobs=None, ray_address=None, on_done) -> None:
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
    """
    from privaudit.reference.backends import _stop, _worker_context, default_jobs

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
        with _torch_threads(jobs):
            for chunk in chunks:
                for result in _train_chunk(shared, store, chunk):
                    on_done(result)
        return
    executor = ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), mp_context=_worker_context(), initializer=_init_chunk_worker, initargs=(shared, str(store.root), os.getpid()))
    try:
        pending = {executor.submit(_train_chunk_in_worker, chunk) for chunk in chunks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                for result in future.result():
                    on_done(result)
    except KeyboardInterrupt:
        _stop(executor, kill_running=True)
        raise
    except BaseException:
        _stop(executor, kill_running=False)  # let running chunks finish into the store
        raise
    executor.shutdown(wait=True)


# -- choosing a local backend by measurement ------------------------------------
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

    stacked = _StackedMLP([build_mlp(**architecture) for _ in range(n_models)], range(n_models), dropout=architecture["dropout"], training=training)
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
    from privaudit.reference.backends import default_jobs

    jobs = max(1, int(n_jobs or default_jobs()))
    fallback = "process" if jobs > 1 else "sequential"
    per_core = f"one model per core ({jobs} cores)" if jobs > 1 else "one model at a time"
    try:
        architecture = mlp_architecture(recipe)
    except ConfigError:
        return fallback, f"{fallback}: {per_core}; only build_mlp torch recipes can train as an ensemble"
    training = recipe.training
    size = min(ensemble_size(architecture, training, max(1, int(n_models))), math.ceil(max(1, int(n_models)) / jobs))
    if size < 2:
        return fallback, f"{fallback}: {per_core}; with {int(n_models)} model(s) on {jobs} core(s) an ensemble would hold one model"
    with _torch_threads(1):
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
