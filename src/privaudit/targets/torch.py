"""PyTorch targets (extra ``privaudit[torch]``; torch is imported only here, lazily).

From files: weights in safetensors plus a ``module:function`` factory that
builds the architecture — no ``torch.load`` of pickles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar, Literal

import numpy as np
import pandas as pd

from privaudit.exceptions import CapabilityError, ConfigError, DataError, TargetError, require
from privaudit.targets.base import check_outputs, import_object, load_transform
from privaudit.targets.config_base import ClassifierTargetConfig
from privaudit.targets.types import register_target_type
from privaudit.trust import check_factory_kwargs, check_factory_signature

__all__ = ["TorchTarget", "TorchTargetConfig", "load_torch_target"]


class TorchTargetConfig(ClassifierTargetConfig):
    """``{type: torch, weights: m.safetensors, factory: "pkg.mod:build", factory_kwargs: {...}, outputs: logits, transform: enc.skops}``.

    ``factory`` builds the architecture (outside privaudit it runs only with
    ``trust_code``); ``transform``: an optional fitted scikit-learn transformer
    (skops) from the feature table to the module's input. Reference models
    train with ``reference.training``.
    """

    type: Literal["torch"]
    weights: str
    factory: str
    factory_kwargs: dict[str, Any] | None = None
    outputs: Literal["logits", "probabilities"] | None = None
    transform: str | None = None

    reference_recipe: ClassVar = "training"
    reference_recipe_required: ClassVar[bool] = True


class TorchTarget:
    """Wrap a ``torch.nn.Module`` that maps a float32 batch ``(n, d)`` to ``(n, C)`` outputs.

    Parameters
    ----------
    module : torch.nn.Module
        Put in eval mode; called under ``torch.no_grad``.
    name : str
    output_kind : {"logits", "probabilities"}
        What the module's last layer returns (columns in data-class order).
    transform : object with ``transform(DataFrame) -> array``, optional
        Fitted preprocessing (e.g. a ColumnTransformer). Without it every
        feature column must already be numeric.
    batch_size : int
    device : str
    """

    def __init__(self, module, *, name: str = "torch", output_kind: str = "logits", transform=None, batch_size: int = 4096, device: str = "cpu") -> None:
        if output_kind not in ("logits", "probabilities"):
            raise CapabilityError(f"target '{name}': a torch target gives 'logits' or 'probabilities', not '{output_kind}'")
        self.module = module
        self.name = name
        self.output_kind = output_kind
        self.transform = transform
        self.batch_size = batch_size
        self.device = device

    def _inputs(self, features: pd.DataFrame) -> np.ndarray:
        if self.transform is not None:
            array = self.transform.transform(features)
            if hasattr(array, "toarray"):
                array = array.toarray()
            return np.asarray(array, dtype=np.float32)
        non_numeric = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
        if non_numeric:
            raise DataError(
                f"target '{self.name}': feature columns {', '.join(map(str, non_numeric[:5]))} are not numeric; "
                "a torch target needs numeric features: encode them beforehand or give the target a transform"
            )
        return features.to_numpy(dtype=np.float32)

    #: ``predict(records, on_batch=f)`` calls ``f(n)`` after each batch of ``n`` records (see :func:`~privaudit.targets.base.query_target`)
    reports_batches = True

    def predict(self, records, *, on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        torch = require("torch", "torch")
        # writable and C-contiguous (pandas copy-on-write hands out read-only arrays, which torch.from_numpy warns about)
        inputs = np.require(self._inputs(records.features), requirements=["C", "W"])
        self.module.eval()
        chunks = []
        with torch.no_grad():
            for start in range(0, len(inputs), self.batch_size):
                batch = torch.from_numpy(inputs[start : start + self.batch_size]).to(self.device)
                try:
                    chunks.append(self.module(batch).detach().cpu().double().numpy())
                except RuntimeError as exc:  # e.g. images of another size than the CNN was built for (factory_kwargs.image_shape)
                    shape = "" if records.image_shape is None else f" (images {' × '.join(map(str, records.image_shape))})"
                    raise TargetError(f"target '{self.name}': the model cannot take these records, {inputs.shape[1]} values each{shape} "
                                      f"({str(exc).splitlines()[0]}); build it for the data (factory_kwargs) or give data of the size it was trained on") from None
                if on_batch is not None:
                    on_batch(len(batch))
        outputs = np.concatenate(chunks) if chunks else np.empty((0, len(records.classes)))
        return check_outputs(outputs, records, self)


@register_target_type(TorchTargetConfig)
def load_torch_target(spec: dict, base_dir: Path, name: str) -> TorchTarget:
    """Config: ``{type: torch, weights: m.safetensors, factory: "pkg.mod:build", factory_kwargs: {...}, outputs: logits, transform: enc.skops}``.

    A factory outside privaudit's built-in ones needs ``spec["trust_code"]``
    (:func:`privaudit.targets.load_target` sets it from the config); weights
    load only from safetensors (never ``torch.load``).
    """
    torch = require("torch", "torch")
    safetensors_torch = require("safetensors.torch", "torch")
    field = f"targets.{name}"
    weights = base_dir / spec["weights"]
    if not weights.is_file():
        raise ConfigError(f"{field}.weights: file {weights} not found")
    if weights.suffix != ".safetensors":
        raise ConfigError(f"{field}.weights: {weights} is not a .safetensors file; save weights with safetensors.torch.save_file (pickled .pt files are refused)")
    kwargs = check_factory_kwargs(spec.get("factory_kwargs"), f"{field}.factory_kwargs")
    factory = import_object(spec["factory"], base_dir, f"{field}.factory", trust_code=bool(spec.get("trust_code")))
    check_factory_signature(factory, kwargs, spec["factory"], f"{field}.factory_kwargs")
    module = factory(**kwargs)
    if not isinstance(module, torch.nn.Module):
        raise ConfigError(f"{field}.factory: {spec['factory']} returned {type(module).__name__}, not a torch.nn.Module")
    try:
        state = safetensors_torch.load_file(str(weights))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own SafetensorError (and OSError) on a damaged file
        detail = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TargetError(f"{field}.weights: {weights} is not a readable safetensors file ({detail}); it may be truncated: save the weights again with safetensors.torch.save_file") from None
    try:
        module.load_state_dict(state)
    except (RuntimeError, OSError) as exc:
        raise TargetError(f"{field}.weights: {weights} does not fit the architecture built by {spec['factory']} ({str(exc).splitlines()[0]})") from None
    return TorchTarget(module, name=name, output_kind=spec.get("outputs") or "logits", transform=load_transform(spec, base_dir, field))
