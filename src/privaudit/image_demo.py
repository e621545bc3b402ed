"""The image demo: a small CNN overfit on Fashion-MNIST images, audited with LOSS, LiRA (with and without augmented queries) and RMIA.

``privaudit demo --images`` (``--small`` for the CI size) runs
:func:`run_image_demo`, through the same path a user's audit takes:

1. **Data**: Fashion-MNIST (:mod:`privaudit.datasets.fashion_mnist`; Debian's
   ``dataset-fashion-mnist``, not shipped with privaudit: without it the command
   says how to install it and exits 2). The 70,000 images (train and test
   files together) are shuffled under ``seed`` into members (the target's
   training set), non-members and population records (known to the attacker);
   pixels scaled to [0, 1]. Written as ``data/fashion_mnist_demo.npz`` (keys
   ``images`` (n, 28, 28) float32, ``labels`` class names, ``ids``
   ``train-00042`` / ``t10k-00042`` = file and index, ``membership``).
2. **Target**: :func:`privaudit.models.build_cnn` (two 3 × 3 conv + pool
   blocks, a ReLU layer), Adam without regularisation for many epochs on few
   images, so it overfits (``models/cnn.safetensors``; ``models/training.json``
   holds its train and test accuracy). Like LiRA's CIFAR-10 models it trains on
   randomly mirrored and 1-pixel-shifted images
   (:class:`~privaudit.models.ImageAugmentation`), so the mirrors and shifts the
   augmented attacks query are images the model has seen.
3. **Reference models**, trained like the target (same CNN, optimiser, epochs
   and training-set size), in an **online** design on the audited records:
   every model trains on exactly ``members`` records, and each audited record
   is IN ``in_models`` of the ``reference_models`` models. One plan serves both
   forms of each attack: the online forms use the IN and OUT models of each
   record, the offline forms only the OUT ones — LiRA's offline variant as its
   paper defines it (Carlini et al. 2022, §VI-C: the same shadow models, OUT
   half only). Training-set sizes equal the target's, so the sizes fix the
   number of non-members: ``nonmembers = members · (reference_models /
   in_models − 1)``.
4. **Attacks**: LOSS, LiRA online and offline (the paper's logit-scaled
   confidence; global variance, which the paper recommends with few models),
   RMIA online and offline, and — when privaudit's attacks accept ``augment`` —
   LiRA with augmented queries (a mirror image and 1-pixel shifts, Carlini et
   al. 2022 §VI-B), and QMIA when it is registered.
5. **Files**: data, model, ``config.yaml`` first (together); the audit then
   runs that config exactly as ``privaudit audit <out>/config.yaml`` does, and
   the report is written last. Reference models are cached under
   ``reference-models/``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from privaudit.exceptions import ConfigError, require

__all__ = ["ImageDemoSettings", "DEFAULT_SETTINGS", "SMALL_SETTINGS", "IMAGE_DEMO_FILES", "TARGET_NAME", "run_image_demo", "prepare_image_demo",
           "image_demo_attacks"]

TARGET_NAME = "cnn"
IMAGE_DEMO_FILES = ("data/fashion_mnist_demo.npz", "models/cnn.safetensors", "models/training.json", "config.yaml", "reference-models/")
#: the augmentation the CNN and its reference models train with, and the augmented attacks query: mirror and shifts of up to 1 pixel (Q = 18)
AUGMENT = {"flip": True, "shift": 1}


@dataclass(frozen=True)
class ImageDemoSettings:
    """Sizes and training of the image demo.

    ``nonmembers`` is derived: ``members · (reference_models / in_models − 1)``, so each
    reference model trains on exactly ``members`` audited records.
    """

    members: int
    population: int
    reference_models: int
    in_models: int
    epochs: int
    batch_size: int = 32
    learning_rate: float = 2e-3
    channels: tuple = (8, 16)
    hidden: int = 128

    @property
    def nonmembers(self) -> int:
        return self.members * self.reference_models // self.in_models - self.members

    def __post_init__(self) -> None:
        if self.members < 10 or self.in_models < 1 or self.reference_models <= self.in_models or (self.members * self.reference_models) % self.in_models:
            raise ConfigError(f"image demo settings: need members ≥ 10, 1 ≤ in_models < reference_models and members · reference_models divisible by in_models, got {self}")


#: full size: 11,000 non-members, so TPR at 0.1 % FPR rests on 11 false positives
DEFAULT_SETTINGS = ImageDemoSettings(members=1_000, population=8_000, reference_models=12, in_models=1, epochs=60)
#: CI size (a few minutes on two cores)
SMALL_SETTINGS = ImageDemoSettings(members=250, population=1_000, reference_models=4, in_models=1, epochs=40)


def image_demo_attacks() -> list:
    """The demo's attacks; augmented LiRA and QMIA only where this privaudit has them (``build_attack`` accepts the spec)."""
    from privaudit.attacks import build_attack

    attacks = ["loss", {"name": "lira", "mode": "online", "variance": "global"}, {"name": "lira", "mode": "offline", "variance": "global"}]
    optional = [{"name": "lira", "mode": "online", "variance": "global", "augment": AUGMENT},
                {"name": "lira", "mode": "offline", "variance": "global", "augment": AUGMENT}]
    attacks += [spec for spec in optional if _builds(spec, build_attack)]
    attacks += [{"name": "rmia", "mode": "online"}, {"name": "rmia", "mode": "offline"}]
    return attacks + [spec for spec in ({"name": "qmia"},) if _builds(spec, build_attack)]


def _builds(spec, build_attack) -> bool:
    try:
        build_attack(spec)
    except (ConfigError, TypeError, LookupError):
        return False
    return True


def _split(n_images: int, settings: ImageDemoSettings, seed: int) -> np.ndarray:
    """Positions of members, non-members and population records (in that order) among the 70,000 images."""
    needed = settings.members + settings.nonmembers + settings.population
    if needed > n_images:
        raise ConfigError(f"image demo settings ask for {needed:,} images; Fashion-MNIST has {n_images:,}")
    return np.random.default_rng(seed).permutation(n_images)[:needed]


def _write_config(out, seed: int, settings: ImageDemoSettings, classes) -> Path:
    import yaml

    training = {"epochs": settings.epochs, "batch_size": settings.batch_size, "learning_rate": settings.learning_rate,
                "augment": {"image_shape": [1, 28, 28], **AUGMENT}}
    config = {
        "seed": seed,
        "data": {"path": "data/fashion_mnist_demo.npz", "label": "labels", "id_column": "ids", "classes": list(classes),
                 "membership": {"column": "membership"}},
        "targets": [{
            "name": TARGET_NAME, "type": "torch", "weights": "models/cnn.safetensors", "factory": "privaudit.models:build_cnn",
            "factory_kwargs": {"image_shape": [1, 28, 28], "n_classes": len(classes), "channels": list(settings.channels), "hidden": settings.hidden},
            "outputs": "logits",
            "reference": {"models": settings.reference_models, "mode": "online", "include_population": False,
                          "fraction": settings.in_models / settings.reference_models, "train_size": "members", "training": training},
        }],
        "attacks": image_demo_attacks(),
        "compute": {"backend": "local", "store": "reference-models"},
        "output": ".",
    }
    return out.write_text("config.yaml", "# Written by `privaudit demo --images`; rerun with: privaudit audit config.yaml\n"
                          + yaml.safe_dump(config, sort_keys=False))


def prepare_image_demo(out, images: np.ndarray, labels: np.ndarray, ids: np.ndarray, *, settings: ImageDemoSettings, seed: int = 0,
                       progress: Callable[[str], None] | None = None) -> Path:
    """Train the target and stage data, model and config in the open output folder ``out``; returns the config path."""
    from privaudit.datasets.fashion_mnist import FASHION_MNIST_CLASSES
    from privaudit.models import ImageAugmentation, TrainingConfig, build_cnn, train_classifier
    from privaudit.progress import track

    torch = require("torch", "torch")
    save_file = require("safetensors.torch", "torch").save_file
    chosen = _split(len(images), settings, seed)
    m, n = settings.members, settings.nonmembers
    roles = np.array(["member"] * m + ["nonmember"] * n + ["population"] * settings.population)
    pixels = (images[chosen].astype(np.float32) / 255.0)
    np.savez_compressed(out.stage_path("data/fashion_mnist_demo.npz"), images=pixels, labels=np.array(FASHION_MNIST_CLASSES)[labels[chosen]],
                        ids=ids[chosen], membership=roles)
    flat, y = pixels.reshape(len(chosen), -1), labels[chosen]
    training = TrainingConfig(epochs=settings.epochs, batch_size=settings.batch_size, learning_rate=settings.learning_rate,
                              augment=ImageAugmentation((1, 28, 28), **AUGMENT))
    torch.manual_seed(seed)
    module = build_cnn((1, 28, 28), len(FASHION_MNIST_CLASSES), channels=settings.channels, hidden=settings.hidden)
    with track(progress, f"training the CNN on {m:,} Fashion-MNIST members", training.epochs, "epochs") as advance:
        info = train_classifier(module, flat[:m], y[:m], training, seed=seed, on_epoch=lambda epoch, loss: advance(1, note=f"training loss {loss:.3g}"))
    module.eval()
    with torch.no_grad():
        predicted = np.concatenate([module(torch.from_numpy(flat[i : min(i + 4096, m + n)])).argmax(1).numpy() for i in range(0, m + n, 4096)])
    accuracy = {"members": float((predicted[:m] == y[:m]).mean()), "nonmembers": float((predicted[m:] == y[m : m + n]).mean())}
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(out.stage_path("models/cnn.safetensors")))
    out.write_text("models/training.json", json.dumps({"settings": asdict(settings), "augment": AUGMENT, "accuracy": accuracy, **info}, indent=2))
    if progress is not None:
        progress(f"CNN accuracy: {accuracy['members']:.1%} on members, {accuracy['nonmembers']:.1%} on non-members")
    return _write_config(out, seed, settings, FASHION_MNIST_CLASSES)


def run_image_demo(out_dir: str | Path = "privaudit-image-demo", *, small: bool = False, seed: int = 0, settings: ImageDemoSettings | None = None,
                   progress: Callable[[str], None] | None = None, force: bool = False):
    """Train, audit and report; returns ``(AuditResult, dict of written report files)`` (see the module docstring).

    Parameters
    ----------
    out_dir : str or Path
        Checked and locked before any work (:class:`~privaudit.output_folder.OutputFolder`).
    small : bool
        :data:`SMALL_SETTINGS` instead of :data:`DEFAULT_SETTINGS` (ignored when ``settings`` is given).
    seed : int
        Seeds the split, training, reference models and the bootstrap.
    force : bool
        Write into a folder privaudit did not create; other files there are left alone.

    Raises
    ------
    CapabilityError
        Fashion-MNIST is not installed (exit 2 from the CLI, with the apt-get command).
    """
    from privaudit.config import load_config
    from privaudit.datasets.fashion_mnist import load_fashion_mnist
    from privaudit.output_folder import OutputFolder
    from privaudit.pipeline import run_audit
    from privaudit.report import REPORT_FILES, write_report

    settings = settings or (SMALL_SETTINGS if small else DEFAULT_SETTINGS)
    parts = [load_fashion_mnist(split) for split in ("train", "test")]  # before the folder: a missing package leaves nothing behind
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    ids = np.array([f"{stem}-{i:05d}" for stem, (x, _) in zip(("train", "t10k"), parts) for i in range(len(x))])
    with OutputFolder(out_dir, command="demo --images", names=(*IMAGE_DEMO_FILES, *REPORT_FILES), force=force) as folder:
        folder.claim(*IMAGE_DEMO_FILES)
        config_path = prepare_image_demo(folder, images, labels, ids, settings=settings, seed=seed, progress=progress)
        folder.commit(remove=REPORT_FILES)
        config, base_dir = load_config(config_path)
        result = run_audit(config, base_dir, progress=progress)
        files = write_report(result, folder)
    return result, files
