"""Difficulty-calibrated loss attack (Watson et al. 2022, "On the Importance of Difficulty Calibration in Membership Inference Attacks").

A record that is hard for *every* model has a high loss whether it was trained
on or not; subtracting what reference models give it removes that
difficulty (Watson et al., eq. 3, with the loss as the base score):

    score(x) = −( loss_target(x) − mean_k loss_k(x) )

* ``mode="offline"`` (default): the mean is over the reference models that did
  *not* train on x (``in_mask`` False) — the setting of Watson et al. and of
  "Attack-R" in Ye et al. 2022 (Enhanced Membership Inference Attacks, CCS).
* ``mode="online"``: over all reference models.

``statistic="percentile"`` is the per-record threshold of Ye et al.'s Attack R
instead of the difference: the mid-rank fraction of the (OUT or all)
reference values the target's value beats,

    score(x) = ( #{k: s_k < s_target} + ½ #{k: s_k = s_target} ) / K_x ,

with s the signal oriented so members are higher (−loss). Flagging
``score > 1 − α`` is Attack R's rule "loss below the record's α-quantile of
reference losses", without the interpolation between order statistics Ye et
al. use. With K_x models the score takes at most 2K_x + 1 distinct values, and
about 1/(K_x + 1) of non-members share the top one, so FPRs below that are
out of its reach.

Any registered signal may replace the loss (``signal``); it is oriented by its
``member_direction`` so scores stay higher = member. Several queries per record
(target ``(n, Q)``, reference ``(n, K, Q)``) are averaged over the queries.
Shapes: target ``(n,)``/``(n, Q)``, reference ``(n, K)``/``(n, K, Q)``, scores
``(n,)``. A record with no usable reference model raises
:class:`~privaudit.exceptions.DataError`.

Example
-------
>>> import numpy as np
>>> calibrated_scores(np.array([[0.1], [2.0]]), np.array([[[1.0], [0.5]], [[2.0], [2.0]]]),
...                   np.array([[False, False], [False, False]]), mode="offline", direction=-1)
array([0.65, 0.  ])
"""

from __future__ import annotations

import numpy as np

from privaudit.attacks.base import ATTACKS
from privaudit.attacks.lira import stack_queries
from privaudit.attacks.reference import ReferenceAttack, check_reference_signal
from privaudit.exceptions import ConfigError, DataError

__all__ = ["ReferenceCalibratedAttack", "calibrated_scores"]


def calibrated_scores(
    target: np.ndarray,
    reference: np.ndarray,
    in_mask: np.ndarray,
    *,
    mode: str = "offline",
    statistic: str = "difference",
    direction: int = -1,
) -> np.ndarray:
    """Difficulty-calibrated scores, shape (n,); ``target`` (n, Q), ``reference`` (n, K, Q), ``in_mask`` (n, K).

    ``direction`` is the signal's member direction (−1 for the loss).
    """
    used = np.ones_like(in_mask, dtype=bool) if mode == "online" else ~np.asarray(in_mask, dtype=bool)
    counts = used.sum(axis=1)
    if np.any(counts == 0):
        raise DataError(f"{int((counts == 0).sum())} record(s) have no {'OUT ' if mode == 'offline' else ''}reference model to calibrate against")
    target = direction * target
    reference = direction * reference
    weights = used[:, :, None].astype(np.float64)
    if statistic == "difference":
        per_query = target - (weights * reference).sum(axis=1) / counts[:, None]
    else:
        below = (weights * (reference < target[:, None, :])).sum(axis=1)
        equal = (weights * (reference == target[:, None, :])).sum(axis=1)
        per_query = (below + 0.5 * equal) / counts[:, None]
    return per_query.mean(axis=1)


@ATTACKS.register("reference_calibrated_loss")
class ReferenceCalibratedAttack(ReferenceAttack):
    """Loss calibrated by reference models (Watson et al. 2022; Attack R of Ye et al. 2022).

    Parameters
    ----------
    mode : {"offline", "online"}
        Calibrate against the reference models OUT for each record (default)
        or against all of them.
    statistic : {"difference", "percentile"}
        Watson et al.'s difference to the reference mean, or Ye et al.'s
        per-record percentile (see the module docstring).
    signal : str
        Default ``"loss"``.
    """

    name = "reference_calibrated_loss"

    def __init__(self, *, mode: str = "offline", statistic: str = "difference", signal: str = "loss") -> None:
        self.mode = mode
        self.statistic = statistic
        self.signal = signal

    @property
    def display_name(self) -> str:
        return f"{self.name}[{self.mode},{self.statistic},{self.signal}]"

    def _score(self, signals, labels, reference) -> np.ndarray:
        from privaudit.signals import SIGNALS

        if self.mode not in ("online", "offline"):
            raise ConfigError(f"attack '{self.name}': mode must be 'online' or 'offline', got {self.mode!r}")
        if self.statistic not in ("difference", "percentile"):
            raise ConfigError(f"attack '{self.name}': statistic must be 'difference' or 'percentile', got {self.statistic!r}")
        direction = SIGNALS.get(self.signal).member_direction
        values = check_reference_signal(reference, self.signal, labels.shape[0], self.display_name)
        target, ref = stack_queries(signals[self.signal], values, attack=self.display_name)
        try:
            return calibrated_scores(target, ref, np.asarray(reference.in_mask), mode=self.mode, statistic=self.statistic, direction=direction)
        except DataError as exc:
            raise DataError(f"attack '{self.display_name}': {exc}") from None
