"""Membership inference attacks. Higher score = more likely a member, always.

Register a new attack with one file here plus ``@ATTACKS.register("name")``
and one import line below.
"""

from __future__ import annotations

from typing import Any

from privaudit.attacks.base import ATTACKS, SignalAttack, build_registered, check_signal
from privaudit.attacks.calibrated import ReferenceCalibratedAttack
from privaudit.attacks.classwise import ClasswiseThresholdAttack
from privaudit.attacks.label_flip import LabelOnlyFlipAttack, LabelOnlyFlipCalibratedAttack
from privaudit.attacks.label_only import LabelOnlyAugmentationAttack, LabelOnlyBoundaryAttack
from privaudit.attacks.lira import LiRAAttack
from privaudit.attacks.needs import AttackNeeds
from privaudit.attacks.qmia import QuantileRegressionAttack
from privaudit.attacks.rmia import RMIAAttack
from privaudit.attacks.shadow import ShadowModelAttack
from privaudit.attacks.threshold import ThresholdAttack
from privaudit.exceptions import ConfigError

__all__ = [
    "ATTACKS",
    "SignalAttack",
    "ThresholdAttack",
    "ClasswiseThresholdAttack",
    "LabelOnlyAugmentationAttack",
    "LabelOnlyBoundaryAttack",
    "LabelOnlyFlipAttack",
    "LabelOnlyFlipCalibratedAttack",
    "LiRAAttack",
    "QuantileRegressionAttack",
    "RMIAAttack",
    "ReferenceCalibratedAttack",
    "ShadowModelAttack",
    "check_signal",
    "AttackNeeds",
    "build_attack",
]


def build_attack(spec: str | dict[str, Any]):
    """Build an attack from a config entry.

    ``"loss"`` (any signal name) means a global threshold attack on that
    signal; a display name as reports show it (``"rmia[offline,confidence]"``)
    builds that variant (:func:`privaudit.attacks.names.standard_variants`); ``{"name": "classwise_threshold", "signal": "loss"}`` names the
    attack and its parameters explicitly.
    """
    from privaudit.signals import SIGNALS

    if isinstance(spec, str):
        if spec in SIGNALS:
            return ThresholdAttack(signal=spec)
        if "[" in spec:  # a display name as reports show it, e.g. rmia[offline,confidence]
            from privaudit.attacks.names import resolve_attack_name, standard_variants
            from privaudit.exceptions import UnknownNameError

            variants = standard_variants()
            try:
                return variants[resolve_attack_name(spec, variants, field="attack", where="privaudit's standard variants")]
            except UnknownNameError as exc:
                raise ConfigError(f"{exc}; for other parameters give a mapping in the config's attacks (check --attack then names it), "
                                  "e.g. {name: lira, mode: offline, variance: global, augment: true}") from None
        spec = {"name": spec}
    cls, params = build_registered(ATTACKS, spec, hint=f" (a signal name alone means a threshold attack on it: {', '.join(SIGNALS.names())})")
    if "signal" in params and params["signal"] not in SIGNALS:
        raise ConfigError(f"attack '{cls.name}': unknown signal '{params['signal']}'; known signals: {', '.join(SIGNALS.names())}")
    attack = cls(**params)
    attack.needs  # noqa: B018  (a query attack validates its parameters here, before any query is spent)
    return attack
