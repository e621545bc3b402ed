"""Every error privaudit raises on purpose.

The tree (each class also subclasses the built-in it means, so callers that
catch ``ValueError`` or ``ImportError`` keep working)::

    PrivauditError
     ├── ConfigError(ValueError)          bad or missing config file, key or value
     ├── DataError(ValueError)            records, labels, membership or outputs are unusable
     ├── TargetError(RuntimeError)        a target cannot be loaded or failed to answer
     │    └── CapabilityError(TypeError)  a target cannot give what a signal or attack needs
     ├── NotFittedError(ValueError, AttributeError)  an attack used before ``fit``
     ├── UnknownNameError(LookupError)    a registry has no entry of that name
     └── MissingDependencyError(ImportError)  an optional extra is not installed

The CLI turns any ``PrivauditError`` into one line on stderr and exit code 2;
nothing else is caught, so real bugs still show their traceback.
"""

from __future__ import annotations

__all__ = [
    "PrivauditError",
    "ConfigError",
    "DataError",
    "TargetError",
    "CapabilityError",
    "NotFittedError",
    "UnknownNameError",
    "MissingDependencyError",
]


class PrivauditError(Exception):
    """Base class of every error privaudit raises on purpose."""


class ConfigError(PrivauditError, ValueError):
    """A config file, key or value is missing or invalid."""


class DataError(PrivauditError, ValueError):
    """Records, labels, membership sets or model outputs are unusable."""


class TargetError(PrivauditError, RuntimeError):
    """A target model could not be loaded or did not answer as declared."""


class CapabilityError(TargetError, TypeError):
    """A target cannot provide what a signal or attack requires."""


class NotFittedError(PrivauditError, ValueError, AttributeError):
    """An attack that needs ``fit`` was used before it was fitted."""


class UnknownNameError(PrivauditError, LookupError):
    """A registry was asked for a name it does not hold."""

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(PrivauditError, ImportError):
    """An optional dependency (an extra) is needed but not installed."""


def require(module: str, extra: str):
    """Import ``module`` lazily or raise :class:`MissingDependencyError` with an install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(
            f"'{module}' is needed for this feature: install it with pip install 'privaudit[{extra}]'"
        ) from exc
