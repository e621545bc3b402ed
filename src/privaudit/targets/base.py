"""What a target is: anything that answers for a batch of records.

A target is described by what it can do, not by a base class::

    class Target(Protocol):
        name: str
        output_kind: "logits" | "probabilities" | "labels"
        def predict(self, records: RecordSet) -> ndarray: ...

``predict`` returns shape ``(n, n_classes)`` for logits / probabilities, with
columns in the order of ``records.classes``, or ``(n,)`` class indices for
label-only targets.

A target that answers in batches may say so with a class attribute
``reports_batches = True`` and then accepts ``predict(records, on_batch=f)``,
calling ``f(n)`` in the calling thread as each batch of ``n`` records is
answered; :func:`query_target` uses it to move a progress bar per batch.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Callable, Literal, Protocol, runtime_checkable

import numpy as np

from privaudit.exceptions import ConfigError, TargetError

__all__ = ["Target", "OutputKind", "check_outputs", "import_object", "load_transform", "query_target"]

OutputKind = Literal["logits", "probabilities", "labels"]


@runtime_checkable
class Target(Protocol):
    """The capability every target provides (see module docstring)."""

    name: str
    output_kind: OutputKind

    def predict(self, records) -> np.ndarray: ...


def query_target(target: Target, records, advance: Callable[[int], None] | None = None) -> np.ndarray:
    """``target.predict(records)``, with ``advance(n)`` called as records are answered.

    Per batch for targets that declare ``reports_batches = True`` (HTTP, torch);
    otherwise once, with ``len(records)``, when the answer is complete.
    """
    if advance is None:
        return target.predict(records)
    if getattr(type(target), "reports_batches", False):  # the declared capability above, not a guess
        return target.predict(records, on_batch=advance)
    outputs = target.predict(records)
    advance(len(records))
    return outputs


def check_outputs(outputs: np.ndarray, records, target: Target) -> np.ndarray:
    """Check a target's answer has the declared shape; raise :class:`TargetError` otherwise."""
    outputs = np.asarray(outputs)
    n, n_classes = len(records), len(records.classes)
    expected = (n,) if target.output_kind == "labels" else (n, n_classes)
    if outputs.shape != expected:
        raise TargetError(f"target '{target.name}' returned shape {outputs.shape} for {n} records; expected {expected} ({target.output_kind}, {n_classes} classes)")
    return outputs


def import_object(reference: str, base_dir: Path, field: str, *, trust_code: bool):
    """Import ``"package.module:attribute"``, looking in ``base_dir`` (the config's folder) first.

    Only privaudit's built-in factories load without ``trust_code``; anything
    else is refused *before* it is imported (:func:`privaudit.trust.check_callable`).
    """
    from privaudit.trust import BUILTIN_FACTORIES, check_callable

    module_name, attr = check_callable(reference, Path(base_dir), field, trust_code=trust_code)
    added = reference not in BUILTIN_FACTORIES and str(base_dir) not in sys.path
    if added:
        sys.path.insert(0, str(base_dir))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{field}: cannot import module '{module_name}' ({exc}); put it next to the config file or install it") from None
    except Exception as exc:  # noqa: BLE001 - trusted user code failed while importing
        raise ConfigError(f"{field}: importing module '{module_name}' failed ({type(exc).__name__}: {str(exc)[:200]!r}); fix that module") from None
    finally:
        if added:
            sys.path.remove(str(base_dir))
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"{field}: module '{module_name}' has no attribute '{attr}'") from None


def load_skops(path: Path, trusted: list[str], field: str, trusted_key: str = "trusted_types in the target's config"):
    """Load a skops file, refusing types the user has not trusted (never pickle).

    Types skops does not trust by default pass when :func:`privaudit.trust.is_allowed_type`
    allows them or they are listed in ``trusted``; types that can run code are
    refused even when listed (:func:`privaudit.trust.check_skops_types`). ``trusted_key``: the config key
    ``trusted`` comes from, named in the fix (e.g. ``targets.forest.trusted_types``).
    """
    from privaudit.exceptions import require
    from privaudit.trust import check_skops_types

    sio = require("skops.io", "sklearn")
    if not path.is_file():
        raise ConfigError(f"{field}: file {path} not found")
    if path.suffix != ".skops":
        raise ConfigError(f"{field}: {path} is not a .skops file; save scikit-learn models with skops.io.dump (pickle files are refused as unsafe)")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises several types for corrupt files
        raise TargetError(f"{field}: {path} is not a readable skops file ({exc})") from None
    accepted = check_skops_types(untrusted, trusted, path, field, trusted_key)
    try:
        return sio.load(path, trusted=accepted)
    except Exception as exc:  # noqa: BLE001 - corrupt content behind a readable schema
        raise TargetError(f"{field}: {path} could not be loaded ({type(exc).__name__}: {str(exc)[:200]!r}); re-save it with skops.io.dump") from None


def load_transform(spec: dict, base_dir: Path, field: str):
    """Optional fitted preprocessing (a skops file holding e.g. a ColumnTransformer)."""
    path = spec.get("transform")
    if path is None:
        return None
    return load_skops((base_dir / path), list(spec.get("trusted_types") or []), f"{field}.transform", f"{field}.trusted_types")
