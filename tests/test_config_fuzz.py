"""Property-based tests of the config loaders (issue 13): random and mutated input, nothing but a PrivauditError escapes.

Bounded (a few hundred examples, no deadline, derandomised) so the file runs in seconds and
every run tries the same inputs.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privaudit.config import check_config_code, parse_config
from privaudit.config_loading import parse_yaml
from privaudit.exceptions import ConfigError, PrivauditError
from privaudit.sweep.config import parse_sweep_config

FUZZ = settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

VALID_AUDIT = {
    "seed": 3,
    "data": {"path": "records.csv", "label": "income", "id_column": "record_id", "membership": {"column": "split"}},
    "targets": [
        {"name": "forest", "type": "sklearn", "path": "model.skops", "trusted_types": ["sklearn.tree._tree.Tree"], "reference": {"models": 4}},
        {"name": "net", "type": "torch", "weights": "w.safetensors", "factory": "privaudit.models:build_mlp",
         "factory_kwargs": {"n_inputs": 3, "n_classes": 2, "hidden": [8]}, "reference": {"training": {"epochs": 2}}},
    ],
    "attacks": ["loss", {"name": "classwise_threshold", "signal": "loss"}],
    "metrics": {"fprs": [0.1, 0.01], "bootstrap": 200},
    "groups": [{"column": "age", "bands": [30, 40]}],
    "output": "report",
}
VALID_SWEEP = {
    "data": {"path": "d.csv", "label": "y", "membership": {"column": "split"}},
    "model": {"factory_kwargs": {"hidden": [16]}, "training": {"epochs": 2}},
    "settings": [{"name": "base"}, {"name": "dp", "dp": {"target_epsilon": 1, "delta": 1e-5}}],
}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["os:system", "evil:build", "privaudit.models:build_mlp", "sklearn", "torch", "loss", "-1", "nan"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=20)


def _paths(value, prefix=()):
    """Every location (tuple of keys/indices) inside a nested dict/list value."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@st.composite
def mutated(draw, base):
    """``base`` with a few locations replaced by random values, deleted, or given an extra key."""
    config = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        locations = [p for p in _paths(config) if p]
        if not locations:
            break
        where = draw(st.sampled_from(locations))
        parent = config
        for part in where[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[where[-1]] = draw(values)
        elif action == "delete":
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
    return config


def _only_privaudit_errors(call):
    try:
        call()
    except PrivauditError as exc:
        assert "\n" not in str(exc), f"error of more than one line: {exc!r}"


@FUZZ
@given(st.one_of(values, mutated(VALID_AUDIT)))
def test_audit_config_parser_raises_only_privaudit_errors(raw):
    def parse_and_check():
        config = parse_config(raw, "fuzz.yaml")
        check_config_code(config, Path("."), source="fuzz.yaml")

    _only_privaudit_errors(parse_and_check)


@FUZZ
@given(st.one_of(values, mutated(VALID_SWEEP)))
def test_sweep_config_parser_raises_only_privaudit_errors(raw):
    _only_privaudit_errors(lambda: parse_sweep_config(raw, "fuzz.yaml"))


@FUZZ
@given(st.text(max_size=300))
def test_yaml_reader_raises_only_config_errors_on_random_text(text):
    try:
        parse_yaml(text, "fuzz.yaml")
    except ConfigError as exc:
        assert "\n" not in str(exc)


yaml_tokens = st.sampled_from([
    "a", "b:", " ", "\n", "  ", "- ", "&x ", "*x", "&y ", "*y", "[", "]", "{", "}", ",", ": ", "'", '"', "!!python/object:os.system",
    "!!binary", "!!set", "!!timestamp", "<<: ", "? ", "|", ">", "#", "\t", "%YAML 1.1\n", "---\n", "...\n", "1e400", "0x1f", "yes", "~",
])


@FUZZ
@given(st.lists(yaml_tokens, max_size=60).map("".join))
def test_yaml_reader_raises_only_config_errors_on_yaml_like_text(text):
    try:
        loaded = parse_yaml(text, "fuzz.yaml")
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    _only_privaudit_errors(lambda: parse_config(loaded, "fuzz.yaml"))


@FUZZ
@given(mutated(VALID_AUDIT))
def test_mutated_config_round_trips_through_yaml_text(raw):
    try:
        text = yaml.safe_dump(raw, allow_unicode=True)
    except yaml.YAMLError:
        return
    _only_privaudit_errors(lambda: parse_config(parse_yaml(text, "fuzz.yaml"), "fuzz.yaml"))
