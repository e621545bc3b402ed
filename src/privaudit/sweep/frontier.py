"""The privacy–utility frontier: which settings no other setting beats on both counts. Pure numpy.

Utility (e.g. test accuracy) is better when higher; leakage (e.g. TPR at 0.1 %
FPR, or an ε lower bound) is better when lower.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pareto_front"]


def pareto_front(utility, leakage) -> np.ndarray:
    """Mask of the Pareto-optimal points: no other point has utility ≥ and leakage ≤ with one of them strict.

    Parameters
    ----------
    utility : array, shape (n,)
        Higher is better (e.g. test accuracy).
    leakage : array, shape (n,)
        Lower is better (e.g. TPR at a low FPR). NaN entries (not measured) are
        never on the front and never dominate.

    Returns
    -------
    ndarray of bool, shape (n,)
        Equal points are all on the front (none strictly beats the other).

    Examples
    --------
    >>> pareto_front([0.80, 0.85, 0.84, 0.70], [0.02, 0.05, 0.06, 0.02]).tolist()
    [True, True, False, False]
    """
    utility = np.asarray(utility, dtype=np.float64)
    leakage = np.asarray(leakage, dtype=np.float64)
    if utility.shape != leakage.shape or utility.ndim != 1:
        raise ValueError(f"utility and leakage must be 1-D of one length, got {utility.shape} and {leakage.shape}")
    valid = np.isfinite(utility) & ~np.isnan(leakage)
    u, v = utility[:, None], leakage[:, None]
    dominated_by = (utility[None, :] >= u) & (leakage[None, :] <= v) & ((utility[None, :] > u) | (leakage[None, :] < v)) & valid[None, :]
    return valid & ~dominated_by.any(axis=1)
