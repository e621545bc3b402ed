"""Membership inference attacks on text. Higher score = more likely a member, always.

Register a new one with one file here plus ``@TEXT_ATTACKS.register("name")``
and one import line below. All are pure numpy: importing them does not import
torch or transformers.
"""

from __future__ import annotations

from typing import Any

from privaudit.attacks.base import build_registered
from privaudit.text.attacks.base import TEXT_ATTACKS, TextAttack, TextQuery
from privaudit.text.attacks.loss import LossAttack
from privaudit.text.attacks.lowercase import LowercaseAttack
from privaudit.text.attacks.min_k import MinKAttack
from privaudit.text.attacks.min_k_plus_plus import MinKPlusPlusAttack
from privaudit.text.attacks.neighbourhood import NeighbourhoodAttack
from privaudit.text.attacks.reference import ReferenceModelAttack
from privaudit.text.attacks.zlib_ratio import ZlibAttack

__all__ = [
    "TEXT_ATTACKS", "TextAttack", "TextQuery", "LossAttack", "ZlibAttack", "LowercaseAttack", "MinKAttack",
    "MinKPlusPlusAttack", "ReferenceModelAttack", "NeighbourhoodAttack", "build_text_attack", "default_text_attacks",
]


def build_text_attack(spec: str | dict[str, Any] | TextAttack) -> TextAttack:
    """An attack from a name (``"min_k"``) or a dict (``{"name": "min_k", "k": 0.1}``); attack objects pass through."""
    if isinstance(spec, TextAttack):
        return spec
    cls, params = build_registered(TEXT_ATTACKS, spec)
    return cls(**params)


def default_text_attacks(*, has_reference: bool) -> list[TextAttack]:
    """Every registered text attack (``reference`` only with a reference model), with default parameters."""
    return [TEXT_ATTACKS.get(name)() for name in TEXT_ATTACKS.names() if has_reference or name != "reference"]
