"""Plain JSON values from numpy and Python objects, as every report.json privaudit writes needs them."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["strict_json_value", "person_power_entry"]


def person_power_entry(power, ci, n_member_persons, n_records: int, *, model: str = "") -> dict:
    """The one JSON form of a person-level power, as check, document and deletion results write it.

    ``{"value", "ci95", "n_member_persons", "meaning"}``; ``value`` and ``ci95`` are ``None`` when no
    member person of that size existed to measure it.

    Examples
    --------
    >>> person_power_entry(0.5, (0.3, 0.7), 40, 3)["ci95"]
    [0.3, 0.7]
    """
    missing = power is None or ci is None or (isinstance(power, float) and math.isnan(power))
    return {"value": None if missing else float(power), "ci95": None if missing else [float(ci[0]), float(ci[1])],
            "n_member_persons": None if n_member_persons is None else int(n_member_persons),
            "meaning": f"share of {model}member persons of {n_records} record(s) with p ≤ alpha (Clopper–Pearson 95 %)"}


def strict_json_value(value):
    """``value`` with numpy types made plain, tuples made lists and NaN/±inf made ``None``.

    Examples
    --------
    >>> strict_json_value({"a": (1.0, float("nan")), "b": np.int64(3)})
    {'a': [1.0, None], 'b': 3}
    """
    if isinstance(value, dict):
        return {str(k): strict_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return [strict_json_value(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)
