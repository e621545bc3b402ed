"""The trust model and the config-reading limits, unit by unit (privaudit.trust, privaudit.config_loading)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from privaudit.config_loading import MAX_ALIASES, MAX_CONFIG_BYTES, MAX_DEPTH, MAX_NODES, parse_yaml, read_config_text
from privaudit.exceptions import ConfigError, UntrustedCodeError
from privaudit.trust import check_callable, check_factory_kwargs, check_skops_types, is_allowed_type, is_dangerous_type

# --- limits: exact boundaries -----------------------------------------------------------------------------------


def test_alias_count_limit_is_exact():
    text = lambda n: "x: &x 1\nys: [" + ", ".join(["*x"] * n) + "]\n"  # noqa: E731
    assert parse_yaml(text(MAX_ALIASES), "c.yaml")["ys"] == [1] * MAX_ALIASES
    with pytest.raises(ConfigError, match=f"more than {MAX_ALIASES} YAML aliases"):
        parse_yaml(text(MAX_ALIASES + 1), "c.yaml")


def test_expanded_node_budget_counts_aliases_of_collections():
    # one anchored list of k scalars is k + 1 values; m aliases of it add m * (k + 1); plus the root mapping, 'a', 'b' keys and list
    k = 999
    base = "a: &a [" + ", ".join(["1"] * k) + "]\nb: ["
    total = lambda m: 1 + 1 + (k + 1) + 1 + 1 + m * (k + 1)  # noqa: E731
    fits = max(m for m in range(MAX_ALIASES + 1) if total(m) <= MAX_NODES)
    assert len(parse_yaml(base + ", ".join(["*a"] * fits) + "]\n", "c.yaml")["b"]) == fits
    with pytest.raises(ConfigError, match=f"more than {MAX_NODES} values"):
        parse_yaml(base + ", ".join(["*a"] * (fits + 1)) + "]\n", "c.yaml")


def test_depth_limit_is_exact():
    assert parse_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH, "c.yaml") is not None
    with pytest.raises(ConfigError, match=f"nested more than {MAX_DEPTH} levels"):
        parse_yaml("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "c.yaml")


def test_size_limit_is_exact(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"#" * MAX_CONFIG_BYTES)
    assert len(read_config_text(path)) == MAX_CONFIG_BYTES
    path.write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        read_config_text(path)


def test_duplicate_keys_refused_but_merge_keys_may_be_overridden():
    with pytest.raises(ConfigError, match="'seed' is given twice"):
        parse_yaml("seed: 1\nseed: 2\n", "c.yaml")
    assert parse_yaml("base: &b {x: 1, y: 2}\nuse: {<<: *b, x: 3}\n", "c.yaml")["use"] == {"x": 3, "y": 2}


def test_a_bom_is_allowed(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes("\ufeffseed: 1\n".encode("utf-8"))
    assert parse_yaml(read_config_text(path), str(path)) == {"seed": 1}


# --- code references ---------------------------------------------------------------------------------------------


def test_check_callable_refuses_before_import_and_never_imports(tmp_path):
    marker = tmp_path / "IMPORTED"
    (tmp_path / "payload_mod_x1.py").write_text(f"open({str(marker)!r}, 'w').write('x')\ndef build():\n    pass\n")
    with pytest.raises(UntrustedCodeError, match="payload_mod_x1.py next to the config") as info:
        check_callable("payload_mod_x1:build", tmp_path, "targets.t.factory", trust_code=False)
    assert "'build'" in str(info.value) and "--trust-code" in str(info.value)
    assert check_callable("payload_mod_x1:build", tmp_path, "f", trust_code=True) == ("payload_mod_x1", "build")
    assert not marker.exists(), "checking a reference imported it"


@pytest.mark.parametrize("reference, where", [
    ("os:system", "an installed module"),
    ("subprocess:run", "an installed module"),
    ("privaudit.demo:run_demo", "outside its built-in factories"),
    ("no_such_module_qq:f", "not installed nor next to the config"),
])
def test_check_callable_names_where_the_code_would_come_from(tmp_path, reference, where):
    with pytest.raises(UntrustedCodeError, match=where):
        check_callable(reference, tmp_path, "f", trust_code=False)


def test_builtin_factory_needs_no_trust(tmp_path):
    assert check_callable("privaudit.models:build_mlp", tmp_path, "f", trust_code=False) == ("privaudit.models", "build_mlp")


@pytest.mark.parametrize("reference", ["os.system", "os:system()", "os:system; rm", ":f", "m:", "a b:c", 3, None])
def test_malformed_references(tmp_path, reference):
    with pytest.raises(ConfigError, match="module:function"):
        check_callable(reference, tmp_path, "f", trust_code=True)


@pytest.mark.parametrize("kwargs, match", [
    ({"a": b"x"}, "bytes values"), ({"a": {1: 2}}, "not a string"), ({"not an id": 1}, "identifier"), ([1], "mapping"),
    ({"a": functools.reduce(lambda inner, _: [inner], range(20), 1)}, "deeply nested"),
])
def test_factory_kwargs_must_be_plain(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        check_factory_kwargs(kwargs, "f")


# --- skops types -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "builtins.eval", "builtins.exec", "builtins.getattr", "builtins.compile", "builtins.__import__", "builtins.open",
    "os.system", "posix.system", "nt.system", "subprocess.Popen", "sys.modules", "importlib.import_module", "shutil.rmtree",
    "pickle.loads", "_pickle.loads", "marshal.loads", "runpy.run_path", "code.interact", "ctypes.CDLL", "socket.socket",
    "numpy.load", "numpy.testing._private.utils.runstring", "numpy.ctypeslib.load_library", "numpy.memmap",
    "operator.methodcaller", "types.FunctionType",
])
def test_dangerous_types(name):
    assert is_dangerous_type(name) and not is_allowed_type(name)
    with pytest.raises(UntrustedCodeError, match="even when listed"):
        check_skops_types([name], [name], Path("m.skops"), "targets.t.path")


@pytest.mark.parametrize("name, allowed", [
    ("sklearn.neural_network._stochastic_optimizers.AdamOptimizer", True), ("numpy.dtype", True), ("numpy.sqrt", True),
    ("sklearn.tree._tree.Tree", False),  # skops warns about tree node arrays: listed by hand
    ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor", False),
    ("sklearn.utils.check_array", False),  # a function, not a class
    ("math.fabs", False), ("functools.partial", False), ("sklearn.no_such.Thing", False),
])
def test_allow_list(name, allowed):
    assert is_allowed_type(name) is allowed
    assert not is_dangerous_type(name)


def test_listing_makes_a_safe_type_load_but_a_listed_dangerous_one_stays_refused():
    assert check_skops_types(["math.fabs", "numpy.dtype"], ["math.fabs"], Path("m.skops"), "f") == ["math.fabs", "numpy.dtype"]
    with pytest.raises(UntrustedCodeError, match="math.fabs"):
        check_skops_types(["math.fabs"], [], Path("m.skops"), "f")
    with pytest.raises(UntrustedCodeError, match="builtins.eval"):  # listed but absent from the file: still refused
        check_skops_types([], ["builtins.eval"], Path("m.skops"), "f")


def test_allow_list_judges_where_a_class_really_lives():
    """A foreign class re-exported by an allowed package (numbers.Integral through sklearn) is not allowed by that name."""
    from privaudit.trust import is_allowed_type

    assert is_allowed_type("sklearn.ensemble._forest.RandomForestClassifier")
    assert is_allowed_type("numpy.float64")
    assert not is_allowed_type("sklearn.utils._param_validation.Integral")  # numbers.Integral under sklearn's name
    assert not is_allowed_type("sklearn.utils._param_validation.Real")
