"""The package's shape, checked from its source: private stays private, modules stay short, the import stays light.

Every module under ``src/privaudit`` is parsed with :mod:`ast` (nothing is
imported). A failure names the file and line. The layer contracts between
packages are import-linter's job (``[tool.importlinter]`` in pyproject.toml,
run by ``make test``); this file checks what import-linter cannot see.

* A private name (one leading underscore, not a dunder) is used only in the
  module that defines it: never imported from another privaudit module, never
  read as an attribute of an imported privaudit module, and never read as an
  attribute of an object when only other privaudit modules define that name
  (``self.recipe._inputs``). A private *module* (``fabricate/_columns.py``) is
  shared within its own package only.
* No module is over :data:`MAX_LINES` lines.
* ``import privaudit`` imports none of the heavy optional dependencies.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import privaudit

PACKAGE_ROOT = Path(privaudit.__file__).resolve().parent
MAX_LINES = 400
HEAVY_DEPENDENCIES = ("torch", "transformers", "ray", "httpx")


def is_private(name: str) -> bool:
    """``_name`` is private; ``__name__`` (a dunder) is not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def package_modules(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for every ``*.py`` under ``root`` (the package named ``root.name``)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imported_from(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` reads from (relative imports resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private_module_owner(module: str) -> str | None:
    """The package a private module may be used in: ``a.b`` for ``a.b._c`` (or ``a.b._c.d``); None when nothing in the path is private."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if is_private(part):
            return ".".join(parts[:i])
    return None


def _defined_private_names(tree: ast.AST) -> set[str]:
    """Private names a module defines: functions, classes, assigned names and attributes, keyword arguments."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return {name for name in names if is_private(name)}


def private_name_uses(root: Path) -> list[str]:
    """``"file:line: ..."`` for every private name used across modules of the package at ``root``."""
    package = root.name
    modules = package_modules(root)
    trees = {name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in modules.items()}
    defined = {name: _defined_private_names(tree) for name, tree in trees.items()}
    problems = []
    for module, tree in trees.items():
        path, is_package = modules[module], modules[module].name == "__init__.py"
        where = f"{path.relative_to(root.parent)}"
        elsewhere = set().union(*(names for other, names in defined.items() if other != module))
        aliases: dict[str, str] = {}  # local name → the privaudit module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] != package:
                        continue
                    owner = _private_module_owner(alias.name)
                    if owner is not None and not (module == owner or module.startswith(owner + ".")):
                        problems.append(f"{where}:{node.lineno}: imports private module {alias.name} from outside {owner}")
                    aliases[alias.asname or package] = alias.name if alias.asname else package
            elif isinstance(node, ast.ImportFrom):
                source = _imported_from(node, module, is_package)
                if source.split(".")[0] != package:
                    continue
                owner = _private_module_owner(source)
                if owner is not None and not (module == owner or module.startswith(owner + ".")):
                    problems.append(f"{where}:{node.lineno}: imports from private module {source} outside {owner}")
                for alias in node.names:
                    if source != module and is_private(alias.name):
                        problems.append(f"{where}:{node.lineno}: imports private name {alias.name} from {source}")
                    if f"{source}.{alias.name}" in modules:
                        aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and is_private(node.attr)):
                continue
            chain, value = [], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in aliases:
                target = ".".join([aliases[value.id], *reversed(chain)])
                if target in modules and target != module:
                    problems.append(f"{where}:{node.lineno}: uses private name {node.attr} of module {target}")
                    continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr not in defined[module] and node.attr in elsewhere:
                problems.append(f"{where}:{node.lineno}: reads .{node.attr}, a private name defined only in other modules")
    return sorted(set(problems))


def long_modules(root: Path, limit: int = MAX_LINES) -> list[str]:
    """``"file: N lines"`` for every module of the package at ``root`` longer than ``limit`` lines."""
    found = []
    for path in package_modules(root).values():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            found.append(f"{path.relative_to(root.parent)}: {n} lines (at most {limit}; split it by what it holds)")
    return found


def test_no_private_name_is_used_across_modules():
    found = sorted(private_name_uses(PACKAGE_ROOT))
    assert not found, "private names used outside their module (give each a public name in a module named after what it holds):\n" + "\n".join(found)


def test_no_module_is_over_400_lines():
    assert not long_modules(PACKAGE_ROOT), "\n".join(long_modules(PACKAGE_ROOT))


def test_import_privaudit_pulls_in_no_heavy_dependency():
    code = f"import json, sys; import privaudit; print(json.dumps([m for m in {list(HEAVY_DEPENDENCIES)!r} if m in sys.modules]))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []



def test_privaudit_testing_exports_its_server_without_importing_fastapi():
    """The fault-injecting server is public (pinned here, like httpx pins its exports); FastAPI and uvicorn load on use."""
    code = ("import json, sys; import privaudit.testing as t, privaudit.serve_example; "
            "print(json.dumps([sorted(t.__all__), [m for m in ('fastapi', 'uvicorn', 'httpx') if m in sys.modules]]))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    exports, heavy = json.loads(run.stdout.strip().splitlines()[-1])
    assert exports == sorted(["Faults", "ServerLog", "FaultInjector", "build_app", "RunningServer", "bind_socket", "uvicorn_server"])
    assert heavy == []


# -- the checks can fail: a tiny package with one of each mistake --------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture()
def synthetic_package(tmp_path) -> Path:
    root = tmp_path / "pkg"
    _write(root, {
        "__init__.py": "__version__ = '1'\n",
        "a.py": "_SECRET = 1\nPUBLIC = 2\n\n\nclass Recipe:\n    def _inputs(self):\n        return self._inputs\n",
        "imports_private.py": "from pkg.a import PUBLIC, _SECRET\n",
        "module_attribute.py": "import pkg.a as a_module\n\nx = a_module._SECRET\n",
        "relative.py": "from . import a\n\nx = a._SECRET\n",
        "dotted.py": "import pkg.a\n\nx = pkg.a._SECRET\n",
        "object_attribute.py": "def f(holder):\n    return holder.recipe._inputs()\n",
        "lazy.py": "def f():\n    from pkg.a import _SECRET\n    return _SECRET\n",
        "fine.py": "from pkg import __version__\nfrom pkg.a import PUBLIC\nimport pkg.a\n\nx = pkg.a.PUBLIC\n_own = 1\ny = [v._own for v in ()]\n",
        "sub/__init__.py": "",
        "sub/_shared.py": "VALUE = 1\n",
        "sub/inside.py": "from pkg.sub._shared import VALUE\nfrom ._shared import VALUE as V2\n",
        "outside.py": "from pkg.sub._shared import VALUE\n",
        "long.py": "x = 1\n" * (MAX_LINES + 1),
        "just_short_enough.py": "x = 1\n" * MAX_LINES,
    })
    return root


def test_the_private_name_check_finds_each_kind_of_use(synthetic_package):
    found = private_name_uses(synthetic_package)
    assert found == sorted([
        "pkg/dotted.py:3: uses private name _SECRET of module pkg.a",
        "pkg/imports_private.py:1: imports private name _SECRET from pkg.a",
        "pkg/lazy.py:2: imports private name _SECRET from pkg.a",
        "pkg/module_attribute.py:3: uses private name _SECRET of module pkg.a",
        "pkg/object_attribute.py:2: reads ._inputs, a private name defined only in other modules",
        "pkg/outside.py:1: imports from private module pkg.sub._shared outside pkg.sub",
        "pkg/relative.py:3: uses private name _SECRET of module pkg.a",
    ])


def test_the_length_check_finds_the_long_module(synthetic_package):
    assert long_modules(synthetic_package) == [f"pkg/long.py: {MAX_LINES + 1} lines (at most {MAX_LINES}; split it by what it holds)"]
