"""Targets: models privaudit can query. One file per kind plus a registry line.

A target type is one module holding the target, its config class (a subclass of
:class:`~privaudit.targets.config_base.TargetConfigBase`) and its loader, registered
with ``@register_target_type(ItsConfig)`` (:mod:`privaudit.targets.types`), plus its
import line below. ``torch`` is imported only when a torch target is used, ``httpx``
only when an HTTP target is.
"""

from __future__ import annotations

from privaudit.targets import http as _http  # noqa: F401  (registers "http"; imports httpx lazily)
from privaudit.targets import precomputed as _precomputed  # noqa: F401  (registers "precomputed")
from privaudit.targets import sklearn as _sklearn  # noqa: F401  (registers "sklearn")
from privaudit.targets import torch as _torch  # noqa: F401  (registers "torch"; imports torch lazily)
from privaudit.targets.base import Target, check_outputs
from privaudit.targets.config_base import ClassifierTargetConfig, TargetConfigBase
from privaudit.targets.http import HTTPTarget, HTTPTargetConfig
from privaudit.targets.output_defence import OutputDefence, OutputDefenceTarget, defend
from privaudit.targets.precomputed import PrecomputedTarget, PrecomputedTargetConfig
from privaudit.targets.sklearn import SklearnTarget, SklearnTargetConfig
from privaudit.targets.torch import TorchTarget, TorchTargetConfig
from privaudit.targets.types import TARGET_TYPES, TargetType, register_target_type

__all__ = [
    "Target", "TARGET_TYPES", "TargetType", "register_target_type", "TargetConfigBase", "ClassifierTargetConfig",
    "SklearnTarget", "TorchTarget", "PrecomputedTarget", "HTTPTarget", "OutputDefence", "OutputDefenceTarget",
    "SklearnTargetConfig", "TorchTargetConfig", "PrecomputedTargetConfig", "HTTPTargetConfig",
    "check_outputs", "load_target",
]


def load_target(spec, base_dir, name: str | None = None, *, trust_code: bool = False) -> Target:
    """Build the target a config entry describes (its ``type`` picks the loader), behind its ``output_defence`` if any.

    ``spec`` is a validated target config (:class:`TargetConfigBase`) or its
    ``model_dump()``; ``name`` defaults to its ``name``. ``trust_code`` (the
    config's top-level ``trust_code`` or ``--trust-code``) lets a factory outside
    privaudit run; without it such a factory is refused before it is imported
    (:mod:`privaudit.trust`).
    """
    from pathlib import Path

    if isinstance(spec, TargetConfigBase):
        spec = spec.model_dump()
    name = name if name is not None else spec["name"]
    spec = {**spec, "trust_code": bool(trust_code or spec.get("trust_code"))}
    return defend(TARGET_TYPES.get(spec["type"]).load(spec, Path(base_dir), name), spec.get("output_defence"))
