"""Reference models: trained "like the target" on chosen records, cached by content.

* :mod:`~privaudit.reference.design` — who is IN which model (seeded, balanced ``(n_records, n_models)`` masks);
* :mod:`~privaudit.reference.check_design` — the pool and mask of an online record check (checked, null and power records IN half the models);
* :mod:`~privaudit.reference.recipes` — how to train one (``SklearnRecipe``, ``TorchRecipe``; a ``Recipe`` protocol);
* :mod:`~privaudit.reference.store` — where finished models and outputs live (atomic, content-keyed, no pickle);
* :mod:`~privaudit.reference.engine` — :func:`train_reference_models`, over the registered ``BACKENDS``
  (``sequential``, ``process``, ``ray``);
* :mod:`~privaudit.reference.precomputed` — models trained elsewhere: their outputs and ``keep`` masks
  from an ``.npz`` (:func:`load_reference_outputs`, :func:`save_reference_outputs`; config ``reference: {outputs: ...}``).

``import privaudit.reference`` imports neither torch nor ray.

Examples
--------
>>> import tempfile
>>> from sklearn.linear_model import LogisticRegression
>>> from privaudit.datasets import make_synthetic_tabular
>>> from privaudit.data import audit_data_from_frame
>>> frame = make_synthetic_tabular(80, seed=0)
>>> frame["split"] = ["member"] * 40 + ["nonmember"] * 40
>>> data = audit_data_from_frame(frame, label="label", id_column="record_id", membership_column="split",
...                              features=["x0", "x1", "x2"])
>>> pool, keep = reference_design(data, 4, seed=0)
>>> store = ReferenceStore(tempfile.mkdtemp())
>>> result = train_reference_models(SklearnRecipe(LogisticRegression()), data.records.subset(pool), keep,
...                                 data.records.subset(data.audited), store=store, seed=0)
>>> result.outputs.shape, result.trained, result.reused
((4, 80, 2), 4, 0)
"""

from privaudit.reference.backends import BACKENDS
from privaudit.reference.design import offline_keep_mask, reference_design, reference_keep_mask
from privaudit.reference.engine import ReferenceOutputs, train_reference_models
from privaudit.reference.precomputed import PrecomputedReferences, load_reference_outputs, save_reference_outputs
from privaudit.reference.recipes import Recipe, SklearnRecipe, TorchRecipe
from privaudit.reference.store import STORE_FORMAT, ReferenceStore
from privaudit.reference.worker import model_seed

__all__ = [
    "BACKENDS",
    "STORE_FORMAT",
    "PrecomputedReferences",
    "Recipe",
    "ReferenceOutputs",
    "ReferenceStore",
    "SklearnRecipe",
    "TorchRecipe",
    "model_seed",
    "load_reference_outputs",
    "offline_keep_mask",
    "reference_design",
    "reference_keep_mask",
    "save_reference_outputs",
    "train_reference_models",
]
