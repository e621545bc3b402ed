"""The trust model: what privaudit runs or loads from files it did not write.

Like Hugging Face's ``trust_remote_code=True``, running code named by a config is
an explicit decision:

* **Callables** (``factory: module:function``) inside privaudit's own allow-list
  (:data:`BUILTIN_FACTORIES`) always load. Anything else — an installed module
  (``os:system``) or a ``.py`` file next to the config — is neither imported nor
  called unless the config says ``trust_code: true`` (top level) or the command
  line says ``--trust-code``. Importing a module already runs its top-level code,
  so the refusal comes before the import (:func:`check_callable`).
* **skops files** are read with ``skops.io.get_untrusted_types`` first. Types skops
  does not trust by default are accepted when they are classes of scikit-learn,
  numpy, scipy or privaudit outside the modules that read files or run code
  and not among those skops warns about (trees: listed by hand)
  (:func:`is_allowed_type`); types that can execute code or touch the system
  (:func:`is_dangerous_type`: ``builtins.eval``, ``os.*``, ``subprocess.*``, …)
  are refused even when listed in ``trusted_types``; any other type must be
  listed, and the listed ones are echoed in the report's run section.
* **Pickles**: a scikit-learn model in a ``.pkl``/``.pickle``/``.joblib`` file loads only
  with ``trust_code``; torch weights load only from safetensors (``.pt`` files are refused,
  and ``torch.load`` is never called).
"""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path
from typing import Any, Iterable

from privaudit.config_loading import one_line
from privaudit.exceptions import ConfigError, UntrustedCodeError
from privaudit.redaction import redact_address

__all__ = [
    "BUILTIN_FACTORIES", "ALLOWED_TYPE_PACKAGES", "check_callable", "check_ray_address", "check_factory_kwargs", "check_factory_signature",
    "is_allowed_type", "is_dangerous_type", "check_skops_types", "check_config_code", "trust_summary", "TRUST_HINT",
]

#: ``module:function`` references that run without opting in: privaudit's own model builders.
BUILTIN_FACTORIES = frozenset({"privaudit.models:build_mlp", "privaudit.models:build_cnn"})

#: Top-level packages whose classes a skops file may hold without listing them.
ALLOWED_TYPE_PACKAGES = ("sklearn", "numpy", "scipy", "privaudit")

TRUST_HINT = "after reading that code, add 'trust_code: true' at the top of the config or pass --trust-code"

_REFERENCE = re.compile(r"^(?P<module>[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*):(?P<attr>[A-Za-z_][A-Za-z0-9_]*)$")

# Modules (and their submodules) whose objects can run code, read or write files, open sockets or load pickles.
_DANGEROUS_MODULES = frozenset({
    "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "sys", "importlib", "shutil", "pickle", "_pickle", "pickletools",
    "copyreg", "marshal", "runpy", "code", "codeop", "ctypes", "_ctypes", "socket", "_socket", "ssl", "select", "selectors",
    "multiprocessing", "concurrent", "threading", "_thread", "asyncio", "signal", "pty", "tty", "fcntl", "resource", "mmap",
    "io", "_io", "tempfile", "pathlib", "glob", "fileinput", "zipfile", "tarfile", "zipimport", "pkgutil", "site", "sysconfig",
    "types", "inspect", "gc", "weakref", "operator", "webbrowser", "urllib", "http", "ftplib", "smtplib",
    "telnetlib", "xmlrpc", "requests", "httpx", "timeit", "trace", "profile", "cProfile", "pdb", "bdb", "doctest", "unittest",
    "distutils", "setuptools", "pip", "venv", "ensurepip", "dill", "cloudpickle", "joblib", "torch",
    "shelve", "dbm", "sqlite3", "logging", "platform", "getpass", "pydoc", "idlelib", "tkinter", "turtle", "ast",
})
# ``builtins`` names that call, import, compile, reach attributes or open files.
_DANGEROUS_BUILTINS = frozenset({
    "eval", "exec", "compile", "getattr", "setattr", "delattr", "__import__", "open", "input", "breakpoint", "globals",
    "locals", "vars", "exit", "quit", "help", "memoryview", "type", "object", "classmethod", "staticmethod", "property",
    "super", "__build_class__", "print",
})
# Inside the allowed packages: modules that read/write files, download, compile or run code.
_DANGEROUS_INSIDE = (
    "numpy.testing", "numpy.ctypeslib", "numpy.f2py", "numpy.distutils", "numpy.lib.npyio", "numpy.lib.format",
    "numpy.lib._npyio_impl", "numpy.lib._datasource", "numpy.lib.utils", "numpy.load", "numpy.save", "numpy.fromfile",
    "numpy.tofile", "numpy.memmap", "numpy.loadtxt", "numpy.genfromtxt", "numpy.DataSource", "numpy.core.memmap",
    "numpy._core.memmap", "scipy.io", "scipy.weave", "scipy._lib._testutils", "sklearn.datasets", "sklearn.externals",
    "sklearn.utils._testing", "sklearn.utils._show_versions", "sklearn.utils.fixes", "privaudit.cli", "privaudit.demo",
    "privaudit.serve_example", "privaudit.testing", "privaudit.trust", "privaudit.targets.base",
)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def check_callable(reference: Any, base_dir: Path, field: str, *, trust_code: bool) -> tuple[str, str]:
    """Check a ``"module:function"`` reference may be imported; return ``(module, function)``.

    Nothing is imported here. References in :data:`BUILTIN_FACTORIES` always
    pass; any other needs ``trust_code``, else :class:`UntrustedCodeError`
    names the module (a file next to the config, or an installed module) and
    the function that would have run, and how to opt in.
    """
    match = _REFERENCE.match(reference) if isinstance(reference, str) else None
    if match is None:
        raise ConfigError(f"{field}: {reference!r} must look like 'module:function' (dotted module name, a colon, a function name)")
    module, attr = match.group("module"), match.group("attr")
    if reference in BUILTIN_FACTORIES or trust_code:
        return module, attr
    top = module.split(".")[0]
    beside = [p for p in (base_dir / f"{top}.py", base_dir / top) if p.exists()]
    if beside:
        where = f"the file {beside[0]} next to the config"
    elif _under(module, "privaudit"):
        where = "privaudit, outside its built-in factories (" + ", ".join(sorted(BUILTIN_FACTORIES)) + ")"
    else:
        try:
            found = importlib.util.find_spec(top) is not None  # looks the top package up; runs none of its code
        except (ImportError, ValueError):
            found = False
        where = "an installed module" if found else "a module that is not installed nor next to the config"
    raise UntrustedCodeError(
        f"{field}: '{reference}' would import module '{module}' ({where}) and call its '{attr}'; "
        f"privaudit runs code from a config only when you trust it: {TRUST_HINT}"
    )


def check_ray_address(address: Any, field: str, *, trust_code: bool) -> None:
    """Refuse a Ray cluster address from a config unless trusted: the client unpickles what the cluster sends back.

    The command line's ``--ray-address`` is the user's own choice and is not checked here.
    """
    if address and not trust_code:
        raise UntrustedCodeError(
            f"{field}: connecting to the Ray cluster at '{redact_address(str(address))}' would run code it sends back (Ray results are pickled); "
            f"give the address with --ray-address yourself, or {TRUST_HINT}"
        )


def check_factory_kwargs(kwargs: Any, field: str, *, max_items: int = 10_000, max_depth: int = 16) -> dict:
    """Check ``factory_kwargs`` holds only plain JSON-like values (str, number, bool, None, lists, str-keyed maps).

    Keys must be Python identifiers. Raises :class:`ConfigError` before anything runs.
    """
    if kwargs is None:
        return {}
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{field}: must be a mapping of argument names to values, got {type(kwargs).__name__}")
    count = 0

    def visit(value: Any, where: str, depth: int) -> None:
        nonlocal count
        count += 1
        if count > max_items or depth > max_depth:
            raise ConfigError(f"{field}: too large or too deeply nested (at most {max_items} values, {max_depth} levels); pass plain arguments")
        if value is None or isinstance(value, (str, bool, int, float)):
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                visit(item, f"{where}[{i}]", depth + 1)
            return
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ConfigError(f"{field}: key {key!r} at {where or 'top'} is not a string; quote it")
                visit(item, f"{where}.{key}", depth + 1)
            return
        raise ConfigError(f"{field}{one_line(where)}: {type(value).__name__} values are not allowed; use strings, numbers, booleans, lists or mappings")

    for key, value in kwargs.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ConfigError(f"{field}: argument name {key!r} is not a Python identifier")
        visit(value, f".{key}", 1)
    return kwargs


def check_factory_signature(function: Any, kwargs: dict, reference: str, field: str) -> None:
    """Check ``function(**kwargs)`` binds (names and required arguments) before calling it; :class:`ConfigError` otherwise."""
    if not callable(function):
        raise ConfigError(f"{field}: '{reference}' is a {type(function).__name__}, not a function; name a function that builds the model")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{field}: '{reference}' cannot take factory_kwargs {sorted(kwargs)} ({exc}); parameters: {', '.join(signature.parameters)}") from None


def is_dangerous_type(name: str) -> bool:
    """Whether a skops type name (``"module.Name"``) can run code, touch files/sockets or load pickles; such types are never loaded."""
    name = str(name)
    if _under(name, "builtins") or _under(name, "__builtin__"):
        return name.split(".", 1)[-1] in _DANGEROUS_BUILTINS or "." not in name
    top = name.split(".")[0]
    if top in _DANGEROUS_MODULES or top.lstrip("_") in _DANGEROUS_MODULES:
        return True
    return any(_under(name, prefix) for prefix in _DANGEROUS_INSIDE)


def _skops_reviewed_types() -> frozenset:
    """Types skops singles out as unsafe to trust blindly (tree node arrays indexed without bounds checks): always listed by hand."""
    try:
        from skops.io.exceptions import UNTRUSTED_TYPE_REASONS
    except ImportError:
        UNTRUSTED_TYPE_REASONS = {}
    return frozenset(UNTRUSTED_TYPE_REASONS) | {"sklearn.tree._tree.Tree", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"}


def is_allowed_type(name: str) -> bool:
    """Whether a type skops does not trust by default may load without listing: a class (or numpy ufunc) of
    scikit-learn, numpy, scipy or privaudit outside the modules that read files or run code, and not one
    skops itself warns about (``skops.io.exceptions.UNTRUSTED_TYPE_REASONS``: tree node arrays that a crafted
    file can make scikit-learn read out of bounds).

    Only modules of those packages are imported to resolve the name; a name that does not resolve is not allowed.
    """
    name = str(name)
    if is_dangerous_type(name) or name.split(".")[0] not in ALLOWED_TYPE_PACKAGES or name in _skops_reviewed_types():
        return False
    module_name, _, attr = name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        obj = getattr(module, attr)
    except (ImportError, AttributeError, ValueError):
        return False
    import numpy as np

    if not (inspect.isclass(obj) or isinstance(obj, np.ufunc)):
        return False
    # judge where the object really lives, not the name it was reached by: a re-export of another package's class is not allowed
    home = getattr(obj, "__module__", None) or module_name
    real_name = f"{home}.{getattr(obj, '__qualname__', attr)}"
    return home.split(".")[0] in ALLOWED_TYPE_PACKAGES and not is_dangerous_type(real_name)


def check_skops_types(found: Iterable[str], listed: Iterable[str], path: Path, field: str, trusted_key: str = "trusted_types in the target's config") -> list[str]:
    """Decide whether a skops file's untrusted types may load; return the types to pass to ``skops.io.load``.

    Parameters
    ----------
    found : types ``skops.io.get_untrusted_types`` reports for the file
    listed : the config's ``trusted_types``
    path, field : named in errors
    trusted_key : the config key to list trusted types under, named in the fix (e.g. ``targets.forest.trusted_types``)

    Raises :class:`UntrustedCodeError` when a found or listed type can run code
    (refused even when listed), or when a type outside the allow-list is not listed.
    """
    found, listed = sorted(set(map(str, found))), sorted(set(map(str, listed)))
    dangerous = sorted({t for t in (*found, *listed) if is_dangerous_type(t)})
    if dangerous:
        raise UntrustedCodeError(
            f"{field}: {path} {'holds' if set(dangerous) & set(found) else 'lists as trusted'} types that can run code or touch the system: "
            f"{', '.join(dangerous)}; privaudit never loads these, even when listed in {trusted_key}: re-save the model without them"
        )
    missing = [t for t in found if t not in listed and not is_allowed_type(t)]
    if missing:
        raise UntrustedCodeError(
            f"{field}: {path} contains types outside privaudit's allow-list (scikit-learn, numpy, scipy): {', '.join(missing)}; "
            f"after checking them, list them under {trusted_key}"
        )
    return found


def check_config_code(config: Any, base_dir: str | Path, *, source: str = "<config>") -> None:
    """Refuse, before anything is imported, a factory the user has not trusted, and factory_kwargs that are not plain values.

    ``config`` is an :class:`~privaudit.config.AuditConfig`. Raises
    :class:`~privaudit.exceptions.UntrustedCodeError` naming the module and
    function (:func:`check_callable`) or :class:`ConfigError`.
    """
    check_ray_address(config.compute.ray_address, f"{source}: compute.ray_address", trust_code=config.trust_code)
    for target in config.targets:
        field = f"{source}: targets.{target.name}"
        factory = getattr(target, "factory", None)  # only target types that build code have one (torch)
        if factory is not None:
            check_callable(factory, Path(base_dir), f"{field}.factory", trust_code=config.trust_code)
        check_factory_kwargs(getattr(target, "factory_kwargs", None), f"{field}.factory_kwargs")


def trust_summary(config: Any) -> dict:
    """What a run trusted beyond the defaults, for the report's run section (JSON-ready).

    Keys: ``trust_code`` (bool), ``factories`` (target name → ``module:function``
    references outside :data:`BUILTIN_FACTORIES` that ran), ``pickles`` (target
    name → pickle/joblib model file unpickled with trust), ``trusted_types``
    (target name → types listed under ``trusted_types`` that the allow-list does
    not cover).
    """
    factories, types, pickles = {}, {}, {}
    for target in getattr(config, "targets", ()):
        factory = getattr(target, "factory", None)  # per-type configs: only torch targets name a factory
        if factory and factory not in BUILTIN_FACTORIES:
            factories[target.name] = factory
        if target.type == "sklearn" and Path(target.path).suffix.lower() in (".pkl", ".pickle", ".joblib"):
            pickles[target.name] = target.path
        extra = sorted(t for t in (getattr(target, "trusted_types", None) or ()) if not is_allowed_type(t))  # classifier targets only
        if extra:
            types[target.name] = extra
    return {"trust_code": bool(getattr(config, "trust_code", False)), "factories": factories, "pickles": pickles, "trusted_types": types}
