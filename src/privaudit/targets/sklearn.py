"""scikit-learn targets: any object with ``predict_proba`` (or ``predict`` for label-only audits).

From a file only via skops (``.skops``), never pickle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from privaudit.exceptions import CapabilityError, TargetError
from privaudit.targets.base import TARGET_LOADERS, check_outputs, load_skops


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
            raise TargetError(
                f"target '{self.name}': model classes {model_classes} do not match the data's labels {list(classes)}; "
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


@TARGET_LOADERS.register("sklearn")
def load_sklearn_target(spec: dict, base_dir: Path, name: str) -> SklearnTarget:
    """Config: ``{type: sklearn, path: model.skops, trusted_types: [...], outputs: probabilities|labels}``."""
    estimator = load_skops(base_dir / spec["path"], list(spec.get("trusted_types") or []), f"targets.{name}.path")
    return SklearnTarget(estimator, name=name, output_kind=spec.get("outputs") or "probabilities")
