"""Global threshold attack on one signal (LOSS attack of Yeom et al. 2018 when the signal is the loss).

The score is the signal oriented so that higher = member (``−loss``,
``+confidence``, ...). Sweeping one global threshold over it gives the ROC;
no reference models and no population are needed to score, only to calibrate
decisions (``predict``).
"""

from __future__ import annotations

from privaudit.attacks.base import ATTACKS, SignalAttack


@ATTACKS.register("threshold")
class ThresholdAttack(SignalAttack):
    """Score = member_direction × signal.

    Parameters
    ----------
    signal : str
        A registered signal name (``privaudit.signals.SIGNALS``).

    Examples
    --------
    >>> import numpy as np
    >>> attack = ThresholdAttack(signal="loss")
    >>> attack.score({"loss": np.array([0.1, 2.0])}, np.array([0, 1]))
    array([-0.1, -2. ])
    """

    name = "threshold"

    def _score(self, signals, labels):
        return self._oriented(signals, labels)
