"""Plain JSON values from numpy and Python objects, as every report.json privaudit writes needs them."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["strict_json_value", "person_power_entry", "bh_floor_entry"]


def person_power_entry(power, ci, n_member_persons, n_records: int, *, model: str = "", floor=None, floor_ci=None,
                       floor_alpha: float | None = None) -> dict:
    """The one JSON form of a person-level power, as check, document and deletion results write it.

    ``{"value", "ci95", "n_member_persons", "meaning", "bh_floor"}``; ``value`` and ``ci95`` are ``None``
    when no member person of that size existed to measure it. ``bh_floor`` (:func:`bh_floor_entry`) is the
    same member persons' share with p ≤ ``floor_alpha`` (alpha / m for m checked persons).

    Examples
    --------
    >>> person_power_entry(0.5, (0.3, 0.7), 40, 3)["ci95"]
    [0.3, 0.7]
    >>> person_power_entry(0.5, (0.3, 0.7), 40, 3, floor=0.2, floor_ci=(0.1, 0.4), floor_alpha=0.01)["bh_floor"]["value"]
    0.2
    """
    missing = power is None or ci is None or (isinstance(power, float) and math.isnan(power))
    return {"value": None if missing else float(power), "ci95": None if missing else [float(ci[0]), float(ci[1])],
            "n_member_persons": None if n_member_persons is None else int(n_member_persons),
            "meaning": f"share of {model}member persons of {n_records} record(s) with p ≤ alpha (Clopper–Pearson 95 %)",
            "bh_floor": bh_floor_entry(None if missing else floor, floor_ci, floor_alpha)}


def bh_floor_entry(floor, ci, alpha: float | None) -> dict:
    """The JSON form of a power's Benjamini–Hochberg floor: the members' share with p ≤ ``alpha`` (= the check's alpha / m).

    ``{"value", "ci95", "alpha", "meaning"}``; ``value`` and ``ci95`` are ``None`` when it was not measured
    (no member of that size). With m checked items, Benjamini–Hochberg calls a member used at least this often
    and at most at the power (p ≤ alpha); with m = 1 it equals the power.

    Examples
    --------
    >>> bh_floor_entry(0.08, (0.05, 0.12), 0.05 / 12)["ci95"]
    [0.05, 0.12]
    """
    missing = floor is None or ci is None or (isinstance(floor, float) and math.isnan(floor))
    return {"value": None if missing else float(floor), "ci95": None if missing else [float(ci[0]), float(ci[1])],
            "alpha": None if alpha is None else float(alpha),
            "meaning": "share of the same members with p ≤ alpha / m (m items checked together, Clopper–Pearson 95 %): "
                       "Benjamini–Hochberg calls a member used at least this often and at most at the power; equal to it when m = 1"}


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
