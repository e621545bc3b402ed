"""Small PyTorch models privaudit trains itself (demo targets, reference models), optionally with DP-SGD.

torch (and, for DP-SGD, opacus — the extra ``privaudit[dp]``) is imported
inside the functions, so importing this module is free.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from privaudit.exceptions import ConfigError, require

__all__ = ["build_mlp", "build_cnn", "ImageAugmentation", "augment_batch", "DPConfig", "DP_ACCOUNTANTS", "TrainingConfig", "noise_multiplier", "train_classifier"]

#: Privacy accountants Opacus offers: Rényi DP (Mironov 2017), privacy random variables (Gopi et al. 2021),
#: Gaussian DP (Dong et al. 2019; Opacus warns it can underestimate ε).
DP_ACCOUNTANTS = ("rdp", "prv", "gdp")


def build_mlp(n_inputs: int, n_classes: int, hidden: Sequence[int] = (256, 256), dropout: float = 0.0):
    """A ReLU multilayer perceptron returning logits, shape (batch, n_classes).

    Used as a ``module:function`` factory in configs
    (``factory: privaudit.models:build_mlp``), so it takes only JSON-able arguments.
    Its layers (Linear, ReLU, Dropout) all train under Opacus' DP-SGD.
    """
    torch = require("torch", "torch")
    layers = []
    width = int(n_inputs)
    for size in hidden:
        layers += [torch.nn.Linear(width, int(size)), torch.nn.ReLU()]
        if dropout > 0:
            layers.append(torch.nn.Dropout(float(dropout)))
        width = int(size)
    layers.append(torch.nn.Linear(width, int(n_classes)))
    return torch.nn.Sequential(*layers)



def build_cnn(image_shape: Sequence[int], n_classes: int, channels: Sequence[int] = (16, 32), hidden: int = 128, dropout: float = 0.0):
    """A small convolutional net on flat pixel batches, returning logits, shape (batch, n_classes).

    The first layer is ``Unflatten(1, image_shape)``: the input is the flat
    pixel batch ``(batch, C·H·W)`` in C-order, exactly what an image
    :class:`~privaudit.data.RecordSet`'s feature columns hold, so targets,
    reference recipes and backends pass it features as they pass
    :func:`build_mlp`. Then per entry of ``channels``: 3 × 3 convolution
    (padding 1), ReLU, 2 × 2 max-pooling; then a ``hidden``-unit ReLU layer
    (optional dropout) and the linear output. Used as
    ``factory: privaudit.models:build_cnn`` with JSON-able arguments.

    Examples
    --------
    >>> import torch
    >>> net = build_cnn([1, 28, 28], 10)
    >>> net(torch.zeros(2, 784)).shape
    torch.Size([2, 10])
    """
    torch = require("torch", "torch")
    shape = tuple(int(v) for v in image_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigError(f"build_cnn: image_shape must be [channels, height, width], got {list(image_shape)}")
    layers = [torch.nn.Unflatten(1, shape)]
    width, height, side = shape[0], shape[1], shape[2]
    for size in channels:
        layers += [torch.nn.Conv2d(width, int(size), 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        width, height, side = int(size), height // 2, side // 2
        if height < 1 or side < 1:
            raise ConfigError(f"build_cnn: {len(channels)} pooling layers shrink a {shape[1]} × {shape[2]} image to nothing; use fewer channels entries")
    layers += [torch.nn.Flatten(), torch.nn.Linear(width * height * side, int(hidden)), torch.nn.ReLU()]
    if dropout > 0:
        layers.append(torch.nn.Dropout(float(dropout)))
    layers.append(torch.nn.Linear(int(hidden), int(n_classes)))
    return torch.nn.Sequential(*layers)

@dataclass(frozen=True)
class DPConfig:
    """Train with DP-SGD (Abadi et al. 2016) to an (ε, δ) budget, through Opacus.

    Parameters
    ----------
    target_epsilon : float
        ε the whole run may spend (> 0). Opacus picks the noise multiplier σ so
        that the planned steps (``epochs`` × minibatches per epoch, Poisson
        sampling at rate ``batch_size / n``) spend at most this.
    delta : float
        δ of the guarantee, in (0, 1); must also be below 1/n for a training set
        of n records (checked when training), else the guarantee is void.
    max_grad_norm : float
        Each record's gradient is clipped to this L2 norm (> 0) before noise is added.
    accountant : {"rdp", "prv", "gdp"}
        How ε is accounted (see :data:`DP_ACCOUNTANTS`).

    Example
    -------
    >>> DPConfig(target_epsilon=8.0, delta=1e-5)
    DPConfig(target_epsilon=8.0, delta=1e-05, max_grad_norm=1.0, accountant='rdp')
    >>> DPConfig(target_epsilon=0.0, delta=1e-5)
    Traceback (most recent call last):
    ...
    privaudit.exceptions.ConfigError: dp.target_epsilon must be a finite number > 0, got 0.0
    """

    target_epsilon: float
    delta: float
    max_grad_norm: float = 1.0
    accountant: str = "rdp"

    def __post_init__(self) -> None:
        if not (isinstance(self.target_epsilon, (int, float)) and math.isfinite(self.target_epsilon) and self.target_epsilon > 0):
            raise ConfigError(f"dp.target_epsilon must be a finite number > 0, got {self.target_epsilon!r}")
        if not (isinstance(self.delta, (int, float)) and 0 < self.delta < 1):
            raise ConfigError(f"dp.delta must lie strictly between 0 and 1 (and below 1/n for n training records), got {self.delta!r}")
        if not (isinstance(self.max_grad_norm, (int, float)) and math.isfinite(self.max_grad_norm) and self.max_grad_norm > 0):
            raise ConfigError(f"dp.max_grad_norm must be a finite number > 0, got {self.max_grad_norm!r}")
        if self.accountant not in DP_ACCOUNTANTS:
            raise ConfigError(f"dp.accountant must be one of {', '.join(DP_ACCOUNTANTS)}, not '{self.accountant}'")

    def check_training_size(self, n: int) -> None:
        """Refuse δ ≥ 1/n: such a δ allows releasing a whole record outright."""
        if self.delta >= 1.0 / max(int(n), 1):
            raise ConfigError(f"dp.delta = {self.delta:g} is not below 1/n = {1.0 / max(int(n), 1):.3g} for {int(n)} training records; a δ that large permits leaking a whole record (use e.g. delta: {_suggest_delta(n):g})")


def _suggest_delta(n: int) -> float:
    return float(10.0 ** math.floor(math.log10(1.0 / (10 * max(int(n), 1)))))


@dataclass(frozen=True)
class ImageAugmentation:
    """Random augmentation of each training image, drawn afresh for every minibatch (as LiRA's CIFAR-10 models train).

    Each image of a minibatch is mirrored left–right with probability ½ (``flip``) and
    shifted by (dy, dx) drawn uniformly from {−shift … shift}², the border filled by
    reflection (the augmentation LiRA's reference code trains with, and that
    :mod:`privaudit.augmentations` queries). ``image_shape`` = (C, H, W) of the flat
    pixel rows (C-order), as in ``RecordSet.image_shape``.
    """

    image_shape: tuple
    flip: bool = True
    shift: int = 0

    def __post_init__(self) -> None:
        shape = tuple(int(v) for v in self.image_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ConfigError(f"training augment: image_shape must be [channels, height, width], got {list(self.image_shape)}")
        if not 0 <= int(self.shift) < min(shape[1:]):
            raise ConfigError(f"training augment: shift must be a whole number from 0 to less than the image's side, got {self.shift!r}")
        if not self.flip and not self.shift:
            raise ConfigError("training augment: flip is false and shift is 0, so nothing would change; set flip: true or shift ≥ 1")
        object.__setattr__(self, "image_shape", shape)


def augment_batch(torch, batch, augmentation: ImageAugmentation, generator):
    """``batch`` (b, C·H·W) with each image randomly flipped and shifted (see :class:`ImageAugmentation`); same shape."""
    images = batch.reshape(-1, *augmentation.image_shape)
    if augmentation.flip:
        mirrored = torch.rand(len(images), generator=generator) < 0.5
        images = torch.where(mirrored[:, None, None, None], images.flip(-1), images)
    s = int(augmentation.shift)
    if s:
        height, width = augmentation.image_shape[1:]
        padded = torch.nn.functional.pad(images, (s, s, s, s), mode="reflect")
        offsets = torch.randint(0, 2 * s + 1, (len(images), 2), generator=generator)
        rows = (offsets[:, 0, None] + torch.arange(height))[:, None, :, None]
        cols = (offsets[:, 1, None] + torch.arange(width))[:, None, None, :]
        index = torch.arange(len(images))[:, None, None, None]
        images = padded[index, torch.arange(images.shape[1])[None, :, None, None], rows, cols]
    return images.reshape(len(images), -1)


@dataclass(frozen=True)
class TrainingConfig:
    """How to train a classifier: Adam on cross-entropy, minibatches, optional regularisation and DP-SGD.

    ``weight_decay`` (Adam's L2 penalty) and ``label_smoothing`` regularise;
    ``patience`` > 0 turns on early stopping on the validation loss (the
    best epoch's weights are restored); it needs validation data. Dropout is
    an architecture setting (``build_mlp(dropout=...)``). ``dp`` switches to
    DP-SGD (:class:`DPConfig`; needs the extra ``privaudit[dp]``).
    """

    epochs: int = 100
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    patience: int = 0
    dp: DPConfig | None = None
    #: random flips and shifts of image records in every minibatch (:class:`ImageAugmentation`); None: none
    augment: ImageAugmentation | None = None


class _EarlyStopping:
    """Tracks the validation loss after each epoch and keeps the best weights."""

    def __init__(self, torch, module, validation, patience: int) -> None:
        self.torch, self.module, self.patience = torch, module, patience
        self.vx = torch.from_numpy(np.asarray(validation[0], dtype=np.float32)) if patience else None
        self.vy = torch.from_numpy(np.asarray(validation[1], dtype=np.int64)) if patience else None
        self.best_loss, self.best_state, self.stale = np.inf, None, 0

    def should_stop(self) -> bool:
        if not self.patience:
            return False
        torch = self.torch
        self.module.eval()
        with torch.no_grad():
            val_loss = float(torch.nn.functional.cross_entropy(self.module(self.vx), self.vy))
        if val_loss < self.best_loss - 1e-4:
            self.best_loss, self.stale = val_loss, 0
            self.best_state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
            return False
        self.stale += 1
        return self.stale >= self.patience

    def finish(self) -> float | None:
        if self.best_state is not None:
            self.module.load_state_dict(self.best_state)
        return None if self.best_state is None else self.best_loss


def train_classifier(module, features: np.ndarray, labels: np.ndarray, config: TrainingConfig, *, seed: int = 0, validation: tuple[np.ndarray, np.ndarray] | None = None,
                     on_epoch: Callable[[int, float], None] | None = None) -> dict:
    """Train ``module`` with Adam on cross-entropy; deterministic under ``seed`` on CPU.

    With ``config.dp`` the run is DP-SGD through Opacus
    (``PrivacyEngine.make_private`` with σ from :func:`noise_multiplier`, as
    ``make_private_with_epsilon`` would choose it; Poisson sampling at rate
    ``batch_size / n``, per-record clipping, Gaussian noise); ``module`` is
    still trained in place and left free of Opacus hooks.

    Returns a dict with ``epochs_run``, ``best_validation_loss`` (None
    without early stopping) and ``dp``: None, or ``{"epsilon", "delta",
    "noise_multiplier", "accountant", "max_grad_norm", "target_epsilon",
    "sample_rate", "steps"}`` — ``epsilon`` being the accountant's ε after
    every step taken (≤ ``target_epsilon``; less when early stopping ends the run sooner).
    Early stopping's validation records are *not* covered by the DP guarantee.

    ``on_epoch(epoch, loss)``, if given, is called after each epoch (1-based) with the
    mean training loss of its minibatches (the smoothed, regularised loss being minimised).
    """
    torch = require("torch", "torch")
    if config.patience and validation is None:
        raise ValueError("early stopping (patience > 0) needs validation data")
    torch.manual_seed(seed)
    # writable copies where needed (torch.from_numpy warns on the read-only arrays pandas hands out)
    x = torch.from_numpy(np.require(np.asarray(features, dtype=np.float32), requirements=["C", "W"]))
    y = torch.from_numpy(np.require(np.asarray(labels, dtype=np.int64), requirements=["C", "W"]))
    optimiser = torch.optim.Adam(module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    stopping = _EarlyStopping(torch, module, validation, config.patience)
    if config.dp is not None and config.augment is not None:
        raise ConfigError("training augment is not available with DP-SGD; drop one of them")
    if config.augment is not None and x.shape[1] != int(np.prod(config.augment.image_shape)):
        raise ConfigError(f"training augment: image_shape {list(config.augment.image_shape)} has {int(np.prod(config.augment.image_shape))} pixels, "
                          f"but the records have {x.shape[1]} feature columns")
    if config.dp is not None:
        epoch, dp_info = _train_private(torch, module, x, y, optimiser, loss_fn, config, seed, stopping, on_epoch)
    else:
        generator = torch.Generator().manual_seed(seed)
        epoch, dp_info = 0, None
        for epoch in range(1, config.epochs + 1):  # noqa: B007 (read after the loop: the epochs run)
            module.train()
            order = torch.randperm(len(x), generator=generator)
            losses = []
            for start in range(0, len(x), config.batch_size):
                batch = order[start : start + config.batch_size]
                optimiser.zero_grad(set_to_none=True)
                inputs = x[batch] if config.augment is None else augment_batch(torch, x[batch], config.augment, generator)
                loss = loss_fn(module(inputs), y[batch])
                loss.backward()
                optimiser.step()
                losses.append(loss.detach())
            if on_epoch is not None:
                on_epoch(epoch, float(torch.stack(losses).mean()) if losses else float("nan"))
            if stopping.should_stop():
                break
    best_loss = stopping.finish()
    module.eval()
    return {"epochs_run": epoch, "best_validation_loss": best_loss, "dp": dp_info}


def noise_multiplier(dp: DPConfig, *, sample_rate: float, epochs: int) -> float:
    """σ for which ``epochs`` passes of Poisson-sampled DP-SGD at ``sample_rate`` spend at most ``dp.target_epsilon``.

    Opacus' ``get_noise_multiplier`` (a binary search to within 0.01 in ε, about 2 s with the RDP
    accountant), cached per process, so reference models trained alike pay it once.
    """
    return _noise_multiplier(float(dp.target_epsilon), float(dp.delta), float(sample_rate), int(epochs), dp.accountant)


@functools.lru_cache(maxsize=64)
def _noise_multiplier(target_epsilon: float, delta: float, sample_rate: float, epochs: int, accountant: str) -> float:
    require("opacus", "dp")
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="GDP accounting is experimental")
        warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")  # the search tries huge σ
        return float(get_noise_multiplier(target_epsilon=target_epsilon, target_delta=delta, sample_rate=sample_rate, epochs=epochs, accountant=accountant))


#: How Opacus clips per-record gradients. "ghost" (Li et al. 2022, Bu et al. 2023) computes each record's
#: gradient norm without materialising per-record gradients and clips through a second backward pass: the same
#: clipped sum as "hooks" (up to float rounding; tested), ~20× faster for the demo's 2 × 512 MLP on one core.
GRAD_SAMPLE_MODE = "ghost"


def _train_private(torch, module, x, y, optimiser, loss_fn, config: TrainingConfig, seed: int, stopping: _EarlyStopping, on_epoch=None):
    """The DP-SGD loop of :func:`train_classifier`; returns ``(epochs_run, dp info)``."""
    dp = config.dp
    opacus = require("opacus", "dp")
    from opacus.validators import ModuleValidator

    dp.check_training_size(len(x))
    problems = ModuleValidator.validate(module, strict=False)
    if problems:
        raise ConfigError(
            f"the model cannot train with DP-SGD: {'; '.join(str(p) for p in problems[:3])} "
            "(per-record gradients need layers such as Linear, ReLU, Dropout, GroupNorm; opacus.validators.ModuleValidator.fix replaces BatchNorm)"
        )
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=config.batch_size, shuffle=False,
        generator=torch.Generator().manual_seed(seed),
    )
    with warnings.catch_warnings():
        # seeded generators instead of a CSPRNG keep runs reproducible; privaudit trains models to audit, not to release
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        warnings.filterwarnings("ignore", message="GDP accounting is experimental")  # documented with DP_ACCOUNTANTS
        engine = opacus.PrivacyEngine(accountant=dp.accountant)
        # what make_private_with_epsilon does (σ for `epochs` passes at rate 1/len(loader)), with σ's search cached
        sigma = noise_multiplier(dp, sample_rate=1.0 / len(loader), epochs=int(config.epochs))
        made = engine.make_private(
            module=module, optimizer=optimiser, data_loader=loader, criterion=loss_fn,
            noise_multiplier=sigma, max_grad_norm=float(dp.max_grad_norm), poisson_sampling=True,
            noise_generator=torch.Generator().manual_seed(seed + 1), grad_sample_mode=GRAD_SAMPLE_MODE,
        )
    if GRAD_SAMPLE_MODE == "ghost":
        private_module, private_optimiser, private_loss, private_loader = made
    else:
        (private_module, private_optimiser, private_loader), private_loss = made, loss_fn
    epoch, steps = 0, 0
    try:
        with warnings.catch_warnings():
            # inputs need no gradient, so torch notes that Opacus' backward hooks see only module outputs — as intended
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            for epoch in range(1, config.epochs + 1):  # noqa: B007 (read after the loop: the epochs run)
                private_module.train()
                losses = []
                for batch_x, batch_y in private_loader:
                    private_optimiser.zero_grad(set_to_none=True)
                    loss = private_loss(private_module(batch_x), batch_y)
                    loss.backward()
                    private_optimiser.step()  # an empty Poisson batch still adds noise and counts as a step
                    steps += 1
                    value = float(loss.detach())
                    if math.isfinite(value):  # the mean over an empty Poisson batch is NaN
                        losses.append(value)
                if on_epoch is not None:
                    on_epoch(epoch, float(np.mean(losses)) if losses else float("nan"))
                if stopping.should_stop():
                    break
    finally:
        cleanup = getattr(private_module, "cleanup", None) or private_module.remove_hooks
        cleanup()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="GDP accounting is experimental")
        epsilon = float(engine.get_epsilon(float(dp.delta)))
    return epoch, {
        "epsilon": epsilon, "delta": float(dp.delta), "noise_multiplier": float(private_optimiser.noise_multiplier),
        "accountant": dp.accountant, "max_grad_norm": float(dp.max_grad_norm), "target_epsilon": float(dp.target_epsilon),
        "sample_rate": float(1.0 / len(loader)), "steps": steps,
    }
