"""Small PyTorch models privaudit trains itself (demo targets; later, reference models).

torch is imported inside the functions, so importing this module is free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from privaudit.exceptions import require

__all__ = ["build_mlp", "TrainingConfig", "train_classifier"]


def build_mlp(n_inputs: int, n_classes: int, hidden: Sequence[int] = (256, 256), dropout: float = 0.0):
    """A ReLU multilayer perceptron returning logits, shape (batch, n_classes).

    Used as a ``module:function`` factory in configs
    (``factory: privaudit.models:build_mlp``), so it takes only JSON-able arguments.
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


@dataclass(frozen=True)
class TrainingConfig:
    """How to train a classifier.

    ``patience`` > 0 turns on early stopping on the validation loss (the
    best epoch's weights are restored); it needs validation data.
    """

    epochs: int = 100
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    patience: int = 0


def train_classifier(module, features: np.ndarray, labels: np.ndarray, config: TrainingConfig, *, seed: int = 0, validation: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Train ``module`` with Adam on cross-entropy; deterministic under ``seed`` on CPU.

    Returns a dict with ``epochs_run`` and ``best_validation_loss`` (None without validation).
    """
    torch = require("torch", "torch")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x = torch.from_numpy(np.asarray(features, dtype=np.float32))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    optimiser = torch.optim.Adam(module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    if config.patience and validation is None:
        raise ValueError("early stopping (patience > 0) needs validation data")
    best_loss, best_state, stale, epoch = np.inf, None, 0, 0
    for epoch in range(1, config.epochs + 1):
        module.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimiser.zero_grad(set_to_none=True)
            loss_fn(module(x[batch]), y[batch]).backward()
            optimiser.step()
        if config.patience:
            module.eval()
            with torch.no_grad():
                vx = torch.from_numpy(np.asarray(validation[0], dtype=np.float32))
                vy = torch.from_numpy(np.asarray(validation[1], dtype=np.int64))
                val_loss = float(torch.nn.functional.cross_entropy(module(vx), vy))
            if val_loss < best_loss - 1e-4:
                best_loss, stale = val_loss, 0
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                stale += 1
                if stale >= config.patience:
                    break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return {"epochs_run": epoch, "best_validation_loss": None if best_state is None else best_loss}
