"""scikit-learn targets: any object with ``predict_proba`` (or ``predict`` for label-only audits).

From a file via skops (``.skops``). A pickle or joblib file (``.pkl``, ``.pickle``,
``.joblib``) runs code when loaded: it loads only with ``trust_code`` (the config's
``trust_code: true`` or ``--trust-code``), see :mod:`privaudit.trust`.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from privaudit.exceptions import CapabilityError, ConfigError, TargetError, UntrustedCodeError
from privaudit.targets.base import check_outputs, load_skops
from privaudit.targets.config_base import ClassifierTargetConfig
from privaudit.targets.types import register_target_type
from privaudit.trust import TRUST_HINT

__all__ = ["SklearnTarget", "SklearnTargetConfig", "load_sklearn_target", "load_pickled_estimator", "PICKLE_SUFFIXES"]


class SklearnTargetConfig(ClassifierTargetConfig):
    """``{type: sklearn, path: model.skops, trusted_types: [...], outputs: probabilities|labels}``.

    ``path``: a skops file (a ``.pkl``/``.pickle``/``.joblib`` file loads only with
    ``trust_code``). Reference models: clones of this estimator, or of ``reference.estimator``.
    """

    type: Literal["sklearn"]
    path: str
    outputs: Literal["probabilities", "labels"] | None = None

    reference_recipe: ClassVar = "estimator"
    reference_recipe_required: ClassVar[bool] = False


class SklearnTarget:
    """Wrap a fitted scikit-learn estimator (or pipeline).

    Parameters
    ----------
    estimator : object
        Fitted; needs ``predict_proba`` for ``output_kind="probabilities"``,
        ``predict`` for ``"labels"``. It receives the records' feature
        DataFrame, so pipelines with their own encoding work unchanged.
    name : str
    output_kind : {"probabilities", "labels"}
    """

    def __init__(self, estimator, *, name: str = "sklearn", output_kind: str = "probabilities") -> None:
        if output_kind not in ("probabilities", "labels"):
            raise CapabilityError(f"target '{name}': a scikit-learn target gives 'probabilities' or 'labels', not '{output_kind}'")
        method = "predict_proba" if output_kind == "probabilities" else "predict"
        if not hasattr(estimator, method):
            raise CapabilityError(f"target '{name}': {type(estimator).__name__} has no {method}(); use outputs: labels for classifiers without probabilities")
        self.estimator = estimator
        self.name = name
        self.output_kind = output_kind

    def _column_order(self, classes: tuple) -> np.ndarray | slice:
        if not hasattr(self.estimator, "classes_"):
            return slice(None)  # no class list to match: columns are taken to be in data-class order (width checked later)
        model_classes = list(self.estimator.classes_)
        lookup = {str(c): i for i, c in enumerate(model_classes)}
        missing = [c for c in classes if str(c) not in lookup]
        if missing or len(model_classes) != len(classes):
            def shown(values) -> str:
                values = [v.item() if isinstance(v, np.generic) else v for v in values]
                return repr(values[:10])[:-1] + (f", … ({len(values)} in all)]" if len(values) > 10 else "]")

            raise TargetError(
                f"target '{self.name}': model classes {shown(model_classes)} do not match the data's labels {shown(list(classes))}; "
                "set data.classes or check the label column"
            )
        return np.array([lookup[str(c)] for c in classes])

    def predict(self, records) -> np.ndarray:
        order = self._column_order(records.classes)
        try:
            if self.output_kind == "labels":
                predicted = np.asarray(self.estimator.predict(records.features))
                inverse = {str(c): i for i, c in enumerate(records.classes)}
                outputs = np.array([inverse.get(str(p), -1) for p in predicted])
            else:
                outputs = np.asarray(self.estimator.predict_proba(records.features))[:, order]
        except (ValueError, KeyError, TypeError) as exc:
            raise TargetError(f"target '{self.name}' failed on the records' features ({exc}); check data.features matches what the model was trained on") from None
        return check_outputs(outputs, records, self)


#: file endings of pickled models: loaded only when the user trusts code
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


def load_pickled_estimator(path: Path, field: str, *, trust_code: bool):
    """Load a pickle/joblib file, only with ``trust_code`` (unpickling runs whatever code the file names)."""
    if not trust_code:
        raise UntrustedCodeError(
            f"{field}: {path} is a pickle file, which runs code when loaded, and pickle files are refused unless trusted: "
            f"re-save the model with skops.io.dump, or {TRUST_HINT}"
        )
    if not path.is_file():
        raise ConfigError(f"{field}: file {path} not found")
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - unpickling a trusted file failed in any of many ways
        raise TargetError(f"{field}: {path} could not be unpickled ({type(exc).__name__}: {str(exc)[:200]!r}); re-save it") from None


@register_target_type(SklearnTargetConfig)
def load_sklearn_target(spec: dict, base_dir: Path, name: str) -> SklearnTarget:
    """Config: ``{type: sklearn, path: model.skops, trusted_types: [...], outputs: probabilities|labels}``.

    ``path`` ending in ``.pkl``/``.pickle``/``.joblib`` loads only with ``spec["trust_code"]``.
    """
    path, field = base_dir / spec["path"], f"targets.{name}.path"
    if path.suffix.lower() in PICKLE_SUFFIXES:
        estimator = load_pickled_estimator(path, field, trust_code=bool(spec.get("trust_code")))
    else:
        estimator = load_skops(path, list(spec.get("trusted_types") or []), field, f"targets.{name}.trusted_types")
    return SklearnTarget(estimator, name=name, output_kind=spec.get("outputs") or "probabilities")
