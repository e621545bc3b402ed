"""The public API is exactly ``privaudit.__all__`` (httpx's tests/test_exported_members.py), and importing it is light."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

import privaudit

HEAVY_MODULES = ("torch", "opacus", "transformers", "ray", "httpx")


def _group(name: str) -> int:
    """__dunder__ first, then CONSTANTS, then Classes, then functions."""
    if name.startswith("__"):
        return 0
    if name.isupper():
        return 1
    return 2 if name[0].isupper() else 3


def test_all_is_a_unique_list_of_strings():
    assert isinstance(privaudit.__all__, list)
    assert all(isinstance(name, str) for name in privaudit.__all__)
    duplicates = sorted({n for n in privaudit.__all__ if privaudit.__all__.count(n) > 1})
    assert not duplicates, duplicates


def test_all_is_sorted_within_groups():
    expected = sorted(privaudit.__all__, key=lambda n: (_group(n), n))
    assert privaudit.__all__ == expected, f"keep __all__ grouped (dunder, CONSTANTS, Classes, functions) and sorted: {expected}"


@pytest.mark.parametrize("name", privaudit.__all__)
def test_every_exported_name_exists(name):
    obj = getattr(privaudit, name)
    assert obj is not None
    if name != "__version__" and isinstance(obj, (type, types.FunctionType)):
        assert obj.__module__.startswith("privaudit"), obj.__module__
        assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"


def test_every_public_member_is_in_all():
    """Every public object defined in privaudit and reachable from the package is listed (httpx's check)."""
    exported = {
        name
        for name, value in vars(privaudit).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", "privaudit").startswith("privaudit")
    }
    assert exported <= set(privaudit.__all__), sorted(exported - set(privaudit.__all__))


def test_star_import_gives_all_names():
    namespace: dict = {}
    exec("from privaudit import *", namespace)
    missing = [name for name in privaudit.__all__ if name not in namespace]
    assert not missing, missing


def test_version_is_a_string():
    assert isinstance(privaudit.__version__, str) and privaudit.__version__[0].isdigit()


def test_exceptions_tree():
    from privaudit import exceptions

    assert set(exceptions.__all__) <= set(privaudit.__all__)
    for name in exceptions.__all__:
        assert issubclass(getattr(privaudit, name), privaudit.PrivauditError), name


def test_import_privaudit_imports_no_heavy_dependency():
    """Heavy extras are imported lazily: `import privaudit` (and the modules that use torch) must not pull them in.

    Runs in a fresh interpreter. As a check that the check can fail, the same
    interpreter then puts a stand-in ``torch`` into ``sys.modules`` and must see it.
    """
    code = (
        "import json, sys, types\n"
        "import privaudit, privaudit.models, privaudit.targets.torch, privaudit.targets.output_defence, privaudit.attacks\n"
        f"heavy = {list(HEAVY_MODULES)!r}\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
        "sys.modules['torch'] = types.ModuleType('torch')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    after_import, with_stand_in = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    assert after_import == [], f"import privaudit loaded {after_import}"
    assert with_stand_in == ["torch"]
