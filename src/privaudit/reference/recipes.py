"""How to train a model "like the target": a recipe.

A recipe is described by what it can do, not by a base class::

    class Recipe(Protocol):
        output_kind: "probabilities" | "logits"
        def fingerprint(self) -> dict: ...                     # JSON-able; part of the cache key
        def train(self, features, labels, seed) -> model: ...  # DataFrame, int ndarray (n,)
        def predict(self, model, features) -> ndarray: ...     # (n, n_classes), columns = class indices
        def save(self, model, directory: Path) -> None: ...    # no pickle
        def load(self, directory: Path) -> model: ...

:class:`SklearnRecipe` clones an estimator and saves with skops;
:class:`TorchRecipe` builds a module from a ``module:function`` factory, trains
it with :func:`privaudit.models.train_classifier` and saves safetensors.
Recipes are sent to worker processes (standard pickling over the process pipe,
never to disk), so they hold only plain values and unfitted or fitted
scikit-learn objects. torch is imported only when a torch recipe trains or loads.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from privaudit.exceptions import CapabilityError, ConfigError, DataError, TargetError, require
from privaudit.models import TrainingConfig
from privaudit.targets.base import import_object
from privaudit.trust import check_callable, check_factory_kwargs, check_factory_signature, check_skops_types

__all__ = ["Recipe", "SklearnRecipe", "TorchRecipe", "describe_object", "PREDICT_BATCH"]

#: Records per forward pass when a torch recipe (or the ensemble backend) queries a model.
PREDICT_BATCH = 4096


@runtime_checkable
class Recipe(Protocol):
    """What the reference engine needs from a recipe (see the module docstring)."""

    output_kind: str

    def fingerprint(self) -> dict: ...

    def train(self, features: pd.DataFrame, labels: np.ndarray, seed: int) -> Any: ...

    def predict(self, model: Any, features: pd.DataFrame) -> np.ndarray: ...

    def save(self, model: Any, directory: Path) -> None: ...

    def load(self, directory: Path) -> Any: ...


def describe_object(obj: Any) -> Any:
    """A JSON-able description of ``obj`` for cache keys: estimators by class, parameters and fitted attributes.

    Arrays are summarised by dtype, shape and SHA-256 of their bytes; functions
    by ``module:qualname``; other objects by their ``repr`` unless it holds a
    memory address, in which case only by their type (so such parameters do not
    change the key).
    """
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        data = np.ascontiguousarray(obj)
        if data.dtype == object:
            return {"ndarray": "object", "items": [describe_object(v) for v in data.ravel().tolist()], "shape": list(data.shape)}
        return {"ndarray": str(data.dtype), "shape": list(data.shape), "sha256": hashlib.sha256(data.tobytes()).hexdigest()}
    if isinstance(obj, (list, tuple)):
        return [describe_object(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): describe_object(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, type) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"
    cls = f"{type(obj).__module__}:{type(obj).__qualname__}"
    if hasattr(obj, "get_params"):
        fitted = {k: describe_object(v) for k, v in sorted(vars(obj).items()) if k.endswith("_") and not k.startswith("_")}
        return {"class": cls, "params": describe_object(obj.get_params(deep=False)), "fitted": fitted}
    text = repr(obj)
    return {"class": cls} if " at 0x" in text else {"class": cls, "repr": text}


def _probabilities(model, features: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(features), dtype=np.float64)


class SklearnRecipe:
    """Train ``sklearn.base.clone(estimator)`` on each reference training set.

    Parameters
    ----------
    estimator : scikit-learn estimator with ``predict_proba``
        Unfitted or fitted (only its parameters are used). Every parameter named
        ``random_state`` (also inside pipelines: ``*__random_state``) is set to
        the model's seed, so reference models differ where the estimator is random.
    trusted_types : sequence of str
        Types outside privaudit's allow-list (:func:`privaudit.trust.is_allowed_type`:
        scikit-learn, numpy, scipy classes) that the saved models may hold;
        loading refuses any other, and types that can run code always
        (:func:`privaudit.trust.check_skops_types`). Recorded beside each model at save time.
    trusted_key : str
        The config key ``trusted_types`` comes from, named in the error when a model holds an unlisted type
        (e.g. ``targets.forest.trusted_types``; not part of the store key).

    ``predict`` returns probabilities ``(n, n_classes)``; training labels are
    class indices, and the engine makes sure every class occurs in each training set.
    """

    output_kind = "probabilities"

    def __init__(self, estimator, *, trusted_types=(), trusted_key: str = "trusted_types in the target's config") -> None:
        if not hasattr(estimator, "predict_proba"):
            raise CapabilityError(f"{type(estimator).__name__} has no predict_proba(); reference models must give probabilities")
        self.estimator = estimator
        self.trusted_types = tuple(sorted(map(str, trusted_types)))
        self.trusted_key = trusted_key

    def fingerprint(self) -> dict:
        import sklearn
        from sklearn.base import clone

        return {"recipe": "sklearn", "estimator": describe_object(clone(self.estimator)), "sklearn": sklearn.__version__, "trusted_types": list(self.trusted_types)}

    def train(self, features: pd.DataFrame, labels: np.ndarray, seed: int):
        from sklearn.base import clone

        model = clone(self.estimator)
        seeds = {name: int(seed) for name in model.get_params(deep=True) if name == "random_state" or name.endswith("__random_state")}
        if seeds:
            model.set_params(**seeds)
        return model.fit(features, np.asarray(labels))

    def predict(self, model, features: pd.DataFrame) -> np.ndarray:
        return _probabilities(model, features)

    def save(self, model, directory: Path) -> None:
        sio = require("skops.io", "sklearn")
        path = Path(directory) / "model.skops"
        sio.dump(model, path)
        untrusted = check_skops_types(sio.get_untrusted_types(file=path), self.trusted_types, path, f"reference model {type(model).__name__}", self.trusted_key)
        (Path(directory) / "skops_types.json").write_text(json.dumps({"untrusted_types": untrusted}))

    def load(self, directory: Path):
        sio = require("skops.io", "sklearn")
        path = Path(directory) / "model.skops"
        recorded = json.loads((Path(directory) / "skops_types.json").read_text())["untrusted_types"]
        found = sorted(sio.get_untrusted_types(file=path))
        if found != sorted(recorded):
            raise DataError(f"{path}: holds types {found} but {recorded} were recorded at save time and {list(self.trusted_types)} are trusted; refusing to load it — delete {Path(directory).parent} to retrain")
        return sio.load(path, trusted=check_skops_types(found, self.trusted_types, path, f"stored reference model {path}", self.trusted_key))


class TorchRecipe:
    """Build a module with ``factory(**factory_kwargs)`` and train it with :func:`~privaudit.models.train_classifier`.

    Parameters
    ----------
    factory : str
        ``"module:function"`` returning a ``torch.nn.Module`` that maps float32
        ``(batch, n_features)`` to ``(batch, n_classes)``, e.g. ``"privaudit.models:build_mlp"``.
    factory_kwargs : dict
        JSON-able arguments of the factory.
    training : TrainingConfig
        Epochs, batch size, learning rate (Adam), weight decay, label smoothing and
        optionally DP-SGD (``dp``, extra ``privaudit[dp]``); early stopping (``patience``) is refused.
    transform : fitted scikit-learn transformer, optional
        Applied to the feature DataFrame first (e.g. the target's encoder); its
        fitted state is part of the fingerprint. Without it features must be numeric.
    output_kind : {"logits", "probabilities"}
    base_dir : path, optional
        Searched first when importing ``factory`` (a config's folder).
    trust_code : bool
        Lets a factory outside privaudit's built-in ones be imported and run
        (:mod:`privaudit.trust`); without it such a factory is refused before import.

    The fingerprint includes the factory's source code, so editing it invalidates the cache.
    """

    def __init__(self, factory: str, factory_kwargs: dict | None = None, training: TrainingConfig | None = None, *, transform=None, output_kind: str = "logits", base_dir: str | Path | None = None, trust_code: bool = False) -> None:
        if output_kind not in ("logits", "probabilities"):
            raise CapabilityError(f"a torch recipe gives 'logits' or 'probabilities', not '{output_kind}'")
        training = training if training is not None else TrainingConfig()
        if training.patience:
            raise ConfigError("reference models train for a fixed number of epochs; set patience=0 (early stopping would need held-out records)")
        check_callable(factory, Path(base_dir or "."), "reference.factory", trust_code=trust_code)  # refuses before any import
        check_factory_kwargs(factory_kwargs, "reference.factory_kwargs")
        self.factory = factory
        self.factory_kwargs = dict(factory_kwargs or {})
        self.training = training
        self.transform = transform
        self.output_kind = output_kind
        self.base_dir = None if base_dir is None else str(base_dir)
        self.trust_code = bool(trust_code)

    def _build(self):
        torch = require("torch", "torch")
        factory = import_object(self.factory, Path(self.base_dir or "."), "reference.factory", trust_code=self.trust_code)
        check_factory_signature(factory, self.factory_kwargs, self.factory, "reference.factory_kwargs")
        module = factory(**self.factory_kwargs)
        if not isinstance(module, torch.nn.Module):
            raise ConfigError(f"reference.factory: {self.factory} returned {type(module).__name__}, not a torch.nn.Module")
        return module

    def inputs(self, features: pd.DataFrame) -> np.ndarray:
        """The float32 C-contiguous ``(n, n_inputs)`` array fed to the module: ``transform`` applied, or the numeric columns as they are."""
        if self.transform is not None:
            array = self.transform.transform(features)
            array = array.toarray() if hasattr(array, "toarray") else array
        else:
            non_numeric = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
            if non_numeric:
                raise DataError(f"torch recipe: feature columns {', '.join(map(str, non_numeric[:5]))} are not numeric; give the recipe a fitted transform")
            array = features.to_numpy(dtype=np.float32)
        return np.require(np.asarray(array, dtype=np.float32), requirements=["C", "W"])

    def fingerprint(self) -> dict:
        torch = require("torch", "torch")
        factory = import_object(self.factory, Path(self.base_dir or "."), "reference.factory", trust_code=self.trust_code)
        try:
            source = hashlib.sha256(inspect.getsource(factory).encode()).hexdigest()
        except (OSError, TypeError):
            source = None
        training = asdict(self.training)
        for key in ("dp", "augment"):
            if training[key] is None:
                del training[key]  # keys of models trained without DP / augmentation stay what they were before those existed
        fingerprint = {
            "recipe": "torch", "factory": self.factory, "factory_source_sha256": source,
            "factory_kwargs": describe_object(self.factory_kwargs), "training": training,
            "transform": describe_object(self.transform), "output_kind": self.output_kind, "torch": torch.__version__,
        }
        if self.training.dp is not None:
            fingerprint["opacus"] = require("opacus", "dp").__version__
        return fingerprint

    def train(self, features: pd.DataFrame, labels: np.ndarray, seed: int):
        from privaudit.models import train_classifier

        torch = require("torch", "torch")
        torch.manual_seed(int(seed))  # initial weights
        module = self._build()
        train_classifier(module, self.inputs(features), np.asarray(labels), self.training, seed=int(seed))
        return module

    def predict(self, model, features: pd.DataFrame, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        torch = require("torch", "torch")
        inputs = self.inputs(features)
        model.eval()
        with torch.no_grad():
            chunks = [model(torch.from_numpy(inputs[i : i + batch_size])).double().numpy() for i in range(0, len(inputs), batch_size)]
        return np.concatenate(chunks) if chunks else np.empty((0, 0))

    def save(self, model, directory: Path) -> None:
        safetensors_torch = require("safetensors.torch", "torch")
        safetensors_torch.save_model(model, str(Path(directory) / "model.safetensors"))

    def load(self, directory: Path):
        safetensors_torch = require("safetensors.torch", "torch")
        module = self._build()
        try:
            safetensors_torch.load_model(module, str(Path(directory) / "model.safetensors"))
        except (RuntimeError, OSError) as exc:
            raise TargetError(f"{directory}: stored weights do not fit the architecture built by {self.factory} ({str(exc).splitlines()[0]})") from None
        return module.eval()
