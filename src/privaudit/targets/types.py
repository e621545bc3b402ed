"""The target types a config may name: type name → (config class, loader).

Each target module registers its type with one line on its loader::

    @register_target_type(SklearnTargetConfig)
    def load_sklearn_target(spec: dict, base_dir: Path, name: str) -> SklearnTarget: ...

and :mod:`privaudit.targets` imports the module (one import line). The name is
the config class's ``type`` literal; :mod:`privaudit.config` builds its
discriminated union of target configs from :data:`TARGET_TYPES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, get_args

from privaudit.registry import Registry

__all__ = ["TargetType", "TARGET_TYPES", "register_target_type", "target_type_name"]


@dataclass(frozen=True)
class TargetType:
    """One registered target type: its config class and the loader ``(spec: dict, base_dir: Path, name: str) -> Target``."""

    config: type
    load: Callable


#: type name in a config → :class:`TargetType`
TARGET_TYPES: Registry[TargetType] = Registry("target type")


def target_type_name(config_class: type) -> str:
    """The one value of ``config_class``'s ``type: Literal[...]`` field."""
    values = get_args(config_class.model_fields["type"].annotation)
    if len(values) != 1 or not isinstance(values[0], str):
        raise TypeError(f"{config_class.__name__}.type must be Literal['<one name>'], got {config_class.model_fields['type'].annotation}")
    return values[0]


def register_target_type(config_class: type) -> Callable:
    """Decorator for a loader: register it with ``config_class`` under the class's ``type`` name (duplicates raise ``ValueError``)."""

    def decorator(loader: Callable) -> Callable:
        TARGET_TYPES.register(target_type_name(config_class))(TargetType(config_class, loader))
        return loader

    return decorator
