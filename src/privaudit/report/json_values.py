"""Plain JSON values from numpy and Python objects, as every report.json privaudit writes needs them."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["strict_json_value"]


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
