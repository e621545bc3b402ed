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
:func:`~privaudit.reference.backend_choice.choose_local_backend` times a few steps of one model and of an ensemble
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
from contextlib import contextmanager
from typing import Callable, Sequence

import numpy as np

from privaudit.exceptions import ConfigError, DataError, require
from privaudit.models import TrainingConfig

__all__ = [
    "MLP_FACTORY",
    "MAX_ENSEMBLE",
    "EnsembleRecipe",
    "mlp_architecture",
    "ensemble_size",
    "train_mlp_ensemble",
    "StackedMLP",
    "torch_threads",
]

#: The only factory the ensemble trainer knows how to stack.
MLP_FACTORY = "privaudit.models:build_mlp"
#: Most models trained at once.
MAX_ENSEMBLE = 32
#: Memory one chunk may take (weights, gradients, Adam moments and activations), bytes. Kept modest: on one
#: core the 2 × 512 Adult MLP (~10 MB per model by this count) trained equally fast per model at K = 8 … 24
#: and ~20 % slower at K = 32 (measured on a 2-core AMD EPYC, torch 2.13).
MEMORY_BUDGET = 256 << 20


def mlp_architecture(recipe) -> dict:
    """``{"n_inputs", "n_classes", "hidden", "dropout"}`` of a build_mlp torch recipe; anything else raises ConfigError."""
    from privaudit.models import build_mlp
    from privaudit.reference.recipes import TorchRecipe

    if isinstance(recipe, EnsembleRecipe):
        recipe = recipe.recipe
    if not isinstance(recipe, TorchRecipe) or recipe.factory != MLP_FACTORY:
        what = f"a TorchRecipe with factory '{recipe.factory}'" if isinstance(recipe, TorchRecipe) else type(recipe).__name__
        raise ConfigError(f"the ensemble trainer trains only TorchRecipe models with factory '{MLP_FACTORY}', not {what}; use backend 'sequential' or 'process'")
    if recipe.training.augment is not None:
        raise ConfigError("the ensemble trainer does not augment images; reference models with a training augment train with backend 'sequential' or 'process'")
    if recipe.training.dp is not None:
        raise ConfigError("the ensemble trainer does not do DP-SGD (per-record clipping and noise); DP reference models train with backend 'sequential' or 'process'")
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
        return self.recipe.inputs(features)

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


def train_mlp_ensemble(inputs: np.ndarray, labels: np.ndarray, rows: Sequence[np.ndarray], seeds: Sequence[int], *, architecture: dict, training: TrainingConfig,
                       on_epoch: Callable[[int], None] | None = None) -> list:
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

    on_epoch : callable, optional
        Called with the epoch number (1 … ``training.epochs``) after each epoch of all K models.

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
    stacked = StackedMLP(modules, seeds, dropout=architecture["dropout"], training=training)
    order_generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    row_tensors = [torch.from_numpy(r) for r in rows]
    padded = n_steps * batch
    weight_of_row = torch.zeros(n_models, padded)  # 1 / (model k's minibatch size) on its rows, 0 on padding
    for k, n in enumerate(sizes):
        for start in range(0, n, batch):
            weight_of_row[k, start : min(start + batch, n)] = 1.0 / (min(start + batch, n) - start)
    uneven = bool((sizes != padded).any())
    for epoch in range(1, int(training.epochs) + 1):
        index = torch.zeros(n_models, padded, dtype=torch.int64)
        for k in range(n_models):
            index[k, : sizes[k]] = row_tensors[k][torch.randperm(int(sizes[k]), generator=order_generators[k])]
        for step in range(n_steps):
            start = step * batch
            width = int(min(batch, sizes.max() - start))
            chosen = index[:, start : start + width]
            stacked.step(x[chosen], y[chosen], weight_of_row[:, start : start + width] if uneven else None)
        if on_epoch is not None:
            on_epoch(epoch)
    return stacked.into(modules)


class StackedMLP:
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
def torch_threads(n: int):
    """Run the ``with`` block with torch using ``n`` threads (at least 1); the previous setting is restored after."""
    torch = require("torch", "torch")
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)
