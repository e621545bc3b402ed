"""Targets: models privaudit can query. One file per kind plus a registry line.

``torch`` is imported only when a torch target is used, ``httpx`` only when an HTTP target is.
"""

from __future__ import annotations

from privaudit.targets import http as _http  # noqa: F401  (registers "http"; imports httpx lazily)
from privaudit.targets import precomputed as _precomputed  # noqa: F401  (registers "precomputed")
from privaudit.targets import sklearn as _sklearn  # noqa: F401  (registers "sklearn")
from privaudit.targets import torch as _torch  # noqa: F401  (registers "torch"; imports torch lazily)
from privaudit.targets.base import TARGET_LOADERS, Target, check_outputs
from privaudit.targets.http import HTTPTarget
from privaudit.targets.output_defence import OutputDefence, OutputDefenceTarget, defend
from privaudit.targets.precomputed import PrecomputedTarget
from privaudit.targets.sklearn import SklearnTarget
from privaudit.targets.torch import TorchTarget

__all__ = [
    "Target", "TARGET_LOADERS", "SklearnTarget", "TorchTarget", "PrecomputedTarget", "HTTPTarget", "OutputDefence", "OutputDefenceTarget",
    "check_outputs", "load_target",
]


def load_target(spec: dict, base_dir, name: str, *, trust_code: bool = False) -> Target:
    """Build the target a config entry describes (``spec["type"]`` picks the loader), behind its ``output_defence`` if any.

    ``trust_code`` (the config's top-level ``trust_code`` or ``--trust-code``)
    lets a factory outside privaudit run; without it such a factory is refused
    before it is imported (:mod:`privaudit.trust`).
    """
    from pathlib import Path

    spec = {**spec, "trust_code": bool(trust_code or spec.get("trust_code"))}
    return defend(TARGET_LOADERS.get(spec["type"])(spec, Path(base_dir), name), spec.get("output_defence"))
