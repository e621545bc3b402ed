"""Every error privaudit raises on purpose.

The tree (each class also subclasses the built-in it means, so callers that
catch ``ValueError`` or ``ImportError`` keep working)::

    PrivauditError
     ├── ConfigError(ValueError)          bad or missing config file, key or value
     │    └── UntrustedCodeError          code or pickled objects would load without the user's opt-in
     ├── DataError(ValueError)            records, labels, membership or outputs are unusable
     │    └── IntegrityError              a stored file does not match the hash recorded for it
     ├── TargetError(RuntimeError)        a target cannot be loaded or failed to answer
     │    ├── CapabilityError(TypeError)  a target cannot give what a signal or attack needs
     │    └── LimitExceededError          an answer broke a deadline or size cap, or carried a secret
     ├── OutputError(OSError)             an output folder is not ours to write, is locked, or cannot be written
     ├── NotFittedError(ValueError, AttributeError)  an attack used before ``fit``
     ├── UnknownNameError(LookupError)    a registry has no entry of that name
     └── MissingDependencyError(ImportError)  an optional extra is not installed

The CLI turns any ``PrivauditError`` into one line on stderr and the error's
``exit_code``: 2 for a user mistake (the default), 1 for a problem of the
environment (a missing extra, an unwritable folder); nothing else is caught,
so real bugs still show their traceback.
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
    "UntrustedCodeError",
    "IntegrityError",
    "LimitExceededError",
    "OutputError",
]


class PrivauditError(Exception):
    """Base class of every error privaudit raises on purpose."""

    #: the CLI's exit status for this error: 2 a user mistake, 1 the environment
    exit_code: int = 2


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

    exit_code = 1


class UntrustedCodeError(ConfigError):
    """Loading this would run code (a factory, a module, a pickled type) the user has not opted in to."""


class IntegrityError(DataError):
    """A stored file (reference model, its outputs) does not match the content hash recorded for it."""


class LimitExceededError(TargetError):
    """An answer broke an overall deadline or a size cap, or contained a configured secret."""


class OutputError(PrivauditError, OSError):
    """An output folder is not privaudit's to write (not empty, locked by another run) or cannot be written."""


def require(module: str, extra: str):
    """Import ``module`` lazily or raise :class:`MissingDependencyError` with an install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(
            f"'{module}' is needed for this feature: install it with pip install 'privaudit[{extra}]'"
        ) from exc
