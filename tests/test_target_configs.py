"""Per-type target configs (issue 14): one class per target type beside its loader, a registry, one-line errors.

Also the defaults a new user meets: ``--reference-models N`` sized like the target and saying so, YAML booleans
where class names go, and errors that name config keys (``trusted_types``, ``reference.estimator``).
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile import assert_one_line_error, run_cli
from privaudit.config import AuditConfig, config_hash, load_config, parse_config, with_reference_overrides
from privaudit.exceptions import ConfigError
from privaudit.targets import TARGET_TYPES, HTTPTargetConfig, PrecomputedTargetConfig, SklearnTargetConfig, TorchTargetConfig
from privaudit.registry import Registry
from privaudit.targets.types import TargetType, register_target_type

DATA = {"path": "data.csv", "label": "y", "id_column": "record_id", "membership": {"column": "split"}}


def _parse(*targets: dict) -> AuditConfig:
    return parse_config({"data": DATA, "targets": list(targets)}, "audit.yaml")


def _error(*targets: dict) -> str:
    with pytest.raises(ConfigError) as info:
        _parse(*targets)
    message = str(info.value)
    assert message.startswith("audit.yaml: ") and "\n" not in message
    return message


# --- the registry and the union ---------------------------------------------------------------------------------


def test_every_registered_type_has_its_config_class_beside_its_loader():
    assert TARGET_TYPES.names() == ["causal_lm", "http", "precomputed", "sklearn", "torch"]
    for name, config_class in (("sklearn", SklearnTargetConfig), ("torch", TorchTargetConfig),
                               ("precomputed", PrecomputedTargetConfig), ("http", HTTPTargetConfig)):
        entry = TARGET_TYPES.get(name)
        assert entry.config is config_class
        assert entry.load.__module__ == config_class.__module__.replace(".http_config", ".http")


def test_each_target_parses_to_its_own_class_with_only_its_keys():
    config = _parse({"name": "a", "type": "sklearn", "path": "m.skops"},
                    {"name": "b", "type": "torch", "weights": "w.safetensors", "factory": "privaudit.models:build_mlp"},
                    {"name": "c", "type": "precomputed", "path": "o.csv", "id_column": "id", "columns": ["p0", "p1"]},
                    {"name": "d", "type": "http", "url": "http://127.0.0.1:1/predict"})
    assert [type(t) for t in config.targets] == [SklearnTargetConfig, TorchTargetConfig, PrecomputedTargetConfig, HTTPTargetConfig]
    dumped = config.model_dump(mode="json")["targets"]
    assert "url" not in dumped[0] and "factory" not in dumped[0] and "path" not in dumped[3]
    assert dumped[2]["columns"] == ["p0", "p1"] and dumped[2]["id_column"] == "id"
    again = parse_config(config.model_dump(mode="json"), "again")  # a dumped config reads back to the same config
    assert again == config and config_hash(again) == config_hash(config)


def test_register_target_type_takes_the_name_from_the_type_literal_and_refuses_duplicates(monkeypatch):
    from typing import Literal

    from privaudit.targets.config_base import TargetConfigBase

    class OnnxTargetConfig(TargetConfigBase):
        type: Literal["onnx"]
        path: str

    registry: Registry = Registry("target type")
    monkeypatch.setattr("privaudit.targets.types.TARGET_TYPES", registry)

    @register_target_type(OnnxTargetConfig)
    def load_onnx(spec, base_dir, name):
        return None

    assert registry.get("onnx") == TargetType(OnnxTargetConfig, load_onnx)
    with pytest.raises(ValueError, match="already registered"):
        register_target_type(OnnxTargetConfig)(load_onnx)


def test_a_new_type_is_one_config_class_and_one_registry_line(monkeypatch):
    """Registering a type is all the union needs: its key set is accepted, another type's keys are refused for it."""
    from typing import ClassVar, Literal

    from pydantic import TypeAdapter, ValidationError

    from privaudit.config import target_config_union
    from privaudit.targets.config_base import TargetConfigBase

    class TextModelConfig(TargetConfigBase):
        type: Literal["text_model"]
        folder: str
        reads_features: ClassVar[bool] = False

    registry: Registry = Registry("target type")
    for name in TARGET_TYPES.names():
        registry.register(name)(TARGET_TYPES.get(name))
    monkeypatch.setattr("privaudit.targets.types.TARGET_TYPES", registry)
    monkeypatch.setattr("privaudit.targets.TARGET_TYPES", registry)
    register_target_type(TextModelConfig)(lambda spec, base_dir, name: None)  # the one registry line
    adapter = TypeAdapter(target_config_union())
    parsed = adapter.validate_python({"name": "lm", "type": "text_model", "folder": "lm/"})
    assert isinstance(parsed, TextModelConfig) and parsed.reference_recipe is None
    assert "trains no reference models" in parsed.missing_reference_recipe()
    with pytest.raises(ValidationError, match="'path' is a key of causal_lm, precomputed and sklearn targets, not of text_model target 'lm'"):
        adapter.validate_python({"name": "lm", "type": "text_model", "folder": "lm/", "path": "x"})
    with pytest.raises(ValidationError, match="'folder' is a key of text_model targets, not of sklearn target 'm'"):
        adapter.validate_python({"name": "m", "type": "sklearn", "path": "m.skops", "folder": "x"})


# --- one-line errors naming the key, the target and its type ----------------------------------------------------


@pytest.mark.parametrize(
    "target, names",
    [
        ({"name": "forest", "type": "sklearn", "path": "m.skops", "url": "http://x"}, ["'url'", "http targets", "sklearn target 'forest'"]),
        ({"name": "forest", "type": "sklearn", "path": "m.skops", "transform": "enc.skops"}, ["'transform'", "sklearn target 'forest'"]),
        ({"name": "forest", "type": "sklearn", "path": "m.skops", "factory": "m:f"}, ["'factory'", "torch targets", "sklearn target 'forest'"]),
        ({"name": "vendor", "type": "precomputed", "path": "o.csv", "weights": "w.safetensors"}, ["'weights'", "precomputed target 'vendor'"]),
        ({"name": "net", "type": "torch", "weights": "w.safetensors", "factory": "m:f", "id_column": "id"}, ["'id_column'", "torch target 'net'"]),
    ],
)
def test_a_key_of_another_type_is_refused_naming_key_target_and_type(target, names):
    message = _error(target)
    for name in names:
        assert name in message, (name, message)
    assert "remove it" in message


def test_an_unknown_or_missing_type_lists_the_registered_types():
    assert "targets.0.type: unknown type 'onnx'; known types: causal_lm, http, precomputed, sklearn, torch" in _error({"name": "m", "type": "onnx"})
    assert "missing required key 'targets.0.type'; known types: causal_lm, http, precomputed, sklearn, torch" in _error({"name": "m", "path": "m.skops"})


def test_outputs_are_checked_per_type():
    assert "targets.0.outputs" in _error({"name": "m", "type": "sklearn", "path": "m.skops", "outputs": "logits"})
    assert "targets.0.outputs" in _error({"name": "m", "type": "torch", "weights": "w.safetensors", "factory": "m:f", "outputs": "labels"})
    assert _parse({"name": "m", "type": "precomputed", "path": "o.csv", "outputs": "labels"}).targets[0].outputs == "labels"


@pytest.mark.parametrize(
    "target, expected",
    [
        ({"name": "vendor", "type": "precomputed", "path": "o.csv", "reference": {"models": 2}}, "targets.vendor.reference.estimator"),
        ({"name": "api", "type": "http", "url": "http://127.0.0.1:1/p", "reference": {"models": 2}}, "targets.api.reference.estimator"),
        ({"name": "net", "type": "torch", "weights": "w.safetensors", "factory": "m:f", "reference": {"models": 2}}, "targets.net.reference.training"),
        ({"name": "forest", "type": "sklearn", "path": "m.skops", "reference": {"training": {"epochs": 3}}}, "reference.training does not apply to a sklearn target"),
        ({"name": "net", "type": "torch", "weights": "w.safetensors", "factory": "m:f", "reference": {"estimator": "e.skops", "training": {}}},
         "reference.estimator does not apply to a torch target"),
    ],
)
def test_reference_blocks_name_the_key_their_type_needs(target, expected):
    assert expected in _error(target)


@pytest.mark.parametrize(
    "target, key",
    [
        ({"name": "vendor", "type": "precomputed", "path": "o.csv"}, "targets.vendor.reference.estimator"),
        ({"name": "api", "type": "http", "url": "http://127.0.0.1:1/p"}, "targets.api.reference.estimator"),
        ({"name": "net", "type": "torch", "weights": "w.safetensors", "factory": "m:f"}, "targets.net.reference.training"),
    ],
)
def test_reference_models_flag_names_the_key_a_target_needs(target, key):
    with pytest.raises(ConfigError) as info:
        with_reference_overrides(_parse(target), models=4)
    message = str(info.value)
    assert message.startswith("--reference-models: ") and key in message
    assert "reference.training" not in message or key.endswith("training"), "a precomputed/http target needs an estimator, not a training recipe"


def test_reference_models_flag_gives_sklearn_targets_a_block_sized_like_the_target():
    config = with_reference_overrides(_parse({"name": "forest", "type": "sklearn", "path": "m.skops"},
                                             {"name": "own", "type": "sklearn", "path": "m.skops", "reference": {"models": 2, "mode": "online"}}), models=8)
    default, own = config.targets[0].reference, config.targets[1].reference
    assert (default.models, default.mode, default.train_size) == (8, "auto", "members")
    assert (own.models, own.mode, own.train_size) == (8, "online", None), "a block the user wrote keeps its settings"


# --- YAML booleans where class names go, end to end -------------------------------------------------------------


def _folder(folder: Path, n: int = 40) -> None:
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"record_id": [f"r{i:03d}" for i in range(n)], "a": rng.normal(size=n), "y": np.where(np.arange(n) % 2, "yes", "no"),
                          "split": ["member"] * (n // 2) + ["nonmember"] * (n // 2)})
    table.to_csv(folder / "data.csv", index=False)
    p = rng.uniform(0.05, 0.95, n)
    pd.DataFrame({"record_id": table.record_id, "p_no": 1 - p, "p_yes": p}).to_csv(folder / "outputs.csv", index=False)


def _audit(folder: Path, text: str, *extra: str):
    (folder / "config.yaml").write_text(textwrap.dedent(text))
    return run_cli(["audit", str(folder / "config.yaml"), "--out", str(folder / "report"), "-q", *extra])


@pytest.mark.parametrize(
    "text, key",
    [
        ("""\
         data: {path: data.csv, label: y, id_column: record_id, classes: [no, yes], membership: {column: split}}
         target: {type: precomputed, path: outputs.csv, columns: [p_no, p_yes]}
         """, "data.classes"),
        ("""\
         data: {path: data.csv, label: y, id_column: record_id, membership: {column: split}}
         target: {type: precomputed, path: outputs.csv, outputs: labels, columns: [yes]}
         """, "targets.0.columns"),
    ],
)
def test_yaml_booleans_where_class_names_go_say_quote_your_class_names(tmp_path, text, key):
    _folder(tmp_path)
    outcome = _audit(tmp_path, text)
    assert_one_line_error(outcome, code=2, names=["config.yaml", key, "quote your class names, e.g. ['no', 'yes']"])
    assert outcome.err.count("quote your") == 1, "one hint, not one per list entry"


def test_quoted_class_names_run(tmp_path):
    _folder(tmp_path)
    outcome = _audit(tmp_path, """\
        data: {path: data.csv, label: y, id_column: record_id, classes: ['no', 'yes'], membership: {column: split}}
        target: {type: precomputed, path: outputs.csv, columns: [p_no, p_yes]}
        attacks: [loss]
        metrics: {bootstrap: 50}
        """)
    assert outcome.escaped is None and outcome.code == 0, outcome.err
    assert json.loads((tmp_path / "report" / "report.json").read_text())["results"][0]["attack"] == "threshold[loss]"


# --- --reference-models sized like the target -------------------------------------------------------------------

FEATURES = ["x0", "x1", "x2", "x3", "x4"]


def _reference_folder(folder: Path, n_population: int) -> Path:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    from privaudit.datasets import make_synthetic_tabular

    frame = make_synthetic_tabular(200 + n_population, label_noise=0.2, seed=3)
    frame["split"] = ["member"] * 100 + ["nonmember"] * 100 + ["population"] * n_population
    frame.to_csv(folder / "records.csv", index=False)
    members = frame[frame.split == "member"]
    sio.dump(LogisticRegression(max_iter=200).fit(members[FEATURES], members.label), folder / "model.skops")
    config = {"data": {"path": "records.csv", "label": "label", "id_column": "record_id", "features": FEATURES, "membership": {"column": "split"}},
              "targets": [{"name": "lr", "type": "sklearn", "path": "model.skops"}],
              "metrics": {"bootstrap": 50}, "compute": {"backend": "sequential", "store": "cache"}, "output": "report"}
    (folder / "audit.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder / "audit.yaml"


@pytest.mark.parametrize("n_population, mode", [(300, "offline"), (40, "online")])
def test_reference_models_flag_trains_each_model_on_as_many_records_as_the_target_and_says_so(tmp_path, n_population, mode):
    from privaudit.pipeline import run_audit
    from privaudit.reference.design import reference_design
    from privaudit.reference.plan import plans_from_config

    config, base = load_config(_reference_folder(tmp_path, n_population))
    config = with_reference_overrides(config, models=4)
    said: list[str] = []
    result = run_audit(config, base, progress=said.append)
    info = result.reference["lr"]
    assert (info["mode"], info["train_size"]) == (mode, 100), "each model trains on at most the target's 100 members"
    assert info["choice"].startswith(f"{mode}, ") and "records per model (the target's 100 members)" in info["choice"]
    assert any("lr: 4 reference models" in line and info["choice"] in line for line in said), said
    assert any(r.attack == f"rmia[{mode},confidence]" for r in result.results)
    # what the engine trained on: the design the plan describes, no model larger than the target's training set
    from privaudit.data import load_audit_data

    data = load_audit_data(base / "records.csv", label="label", id_column="record_id", features=FEATURES, membership_column="split")
    plan = plans_from_config(config, base, data=data)["lr"]
    pool, keep = reference_design(data, plan.n_models, seed=config.seed, mode=plan.mode, include_population=plan.include_population,
                                  fraction=plan.fraction, train_size=plan.train_size)
    assert keep.sum(axis=0).max() <= 100 and keep.sum(axis=0).min() >= 50

    from privaudit.report.verdict import report_notes

    notes = " ".join(report_notes(result))
    assert f"lr: 4 reference models chosen by privaudit — {info['choice']}" in notes


def test_reference_model_with_an_unlisted_type_names_the_config_key(tmp_path):
    import math

    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from privaudit.pipeline import run_audit

    path = _reference_folder(tmp_path, 300)
    frame = pd.read_csv(tmp_path / "records.csv")
    members = frame[frame.split == "member"]
    model = make_pipeline(FunctionTransformer(inverse_func=math.fabs, check_inverse=False), LogisticRegression()).fit(members[FEATURES], members.label)
    sio.dump(model, tmp_path / "vendor.skops")
    raw = yaml.safe_load(path.read_text())
    raw["targets"] = [{"name": "lr", "type": "sklearn", "path": "model.skops", "reference": {"models": 2, "mode": "offline", "estimator": "vendor.skops"}}]
    with pytest.raises(Exception) as info:
        run_audit(parse_config(raw, "audit.yaml"), tmp_path)
    assert "math.fabs" in str(info.value) and "targets.lr.trusted_types" in str(info.value)


# --- the README's examples: valid per-type configs, every key documented -----------------------------------------


def _readme_target_examples() -> list[dict]:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    targets = []
    for block in text.split("```yaml\n")[1:]:
        loaded = yaml.safe_load(block.split("```", 1)[0])
        if isinstance(loaded, dict) and isinstance(loaded.get("targets"), list):
            targets += loaded["targets"]
        elif isinstance(loaded, list) and all(isinstance(t, dict) and "type" in t for t in loaded):
            targets += loaded
    return targets


def test_readme_target_examples_are_valid_and_every_key_they_use_is_documented():
    from pydantic import TypeAdapter

    from privaudit.config import TargetConfig
    from privaudit.targets import TARGET_TYPES

    examples = _readme_target_examples()
    assert {t["type"] for t in examples} == set(TARGET_TYPES.names())
    TypeAdapter(list[TargetConfig]).validate_python(examples)  # raises on a key of another type or a missing one
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    used = {key for t in examples for key in t} | {f"reference.{key}" for t in examples if isinstance(t.get("reference"), dict) for key in t["reference"]}

    def documented(key: str) -> bool:  # named in backticks, or explained by a comment on an example line that sets it
        last = key.split(".")[-1]
        return f"`{last}`" in readme or f"`{key}`" in readme or re.search(rf"^\s*(- )?{last}:[^\n]*#", readme, re.M) is not None

    undocumented = sorted(k for k in used if not documented(k))
    assert not undocumented, f"keys README examples use but never explain: {undocumented}"


@pytest.mark.parametrize("value", ["all", 1, True, 2.5])
def test_reference_train_size_is_a_number_or_members_in_one_message(value):
    message = _error({"name": "m", "type": "sklearn", "path": "m.skops", "reference": {"train_size": value}})
    assert "targets.0.reference.train_size: give a whole number of records (at least 2) or 'members'" in message
    assert message.count("train_size") == 1, "one message, not one per branch of the union"


def test_a_trained_reference_model_with_an_unlisted_type_names_the_config_key(tmp_path):
    import math

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from privaudit.exceptions import UntrustedCodeError
    from privaudit.reference.recipes import SklearnRecipe

    recipe = SklearnRecipe(make_pipeline(FunctionTransformer(inverse_func=math.fabs, check_inverse=False), LogisticRegression()),
                           trusted_key="targets.forest.trusted_types")
    model = recipe.train(pd.DataFrame({"a": np.arange(10.0)}), np.arange(10) % 2, seed=0)
    with pytest.raises(UntrustedCodeError, match=r"math\.fabs; after checking them, list them under targets\.forest\.trusted_types"):
        recipe.save(model, tmp_path)
    listed = SklearnRecipe(recipe.estimator, trusted_types=["math.fabs"], trusted_key="targets.forest.trusted_types")
    listed.save(model, tmp_path)
    assert listed.load(tmp_path).predict_proba(pd.DataFrame({"a": [1.0]})).shape == (1, 2)
    assert listed.fingerprint() == SklearnRecipe(recipe.estimator, trusted_types=["math.fabs"]).fingerprint(), "the key named in errors is not part of the store key"


def test_offline_members_larger_than_the_population_names_the_key(tmp_path):
    from privaudit.data import load_audit_data
    from privaudit.reference.plan import plans_from_config

    path = _reference_folder(tmp_path, 40)
    raw = yaml.safe_load(path.read_text())
    raw["targets"][0]["reference"] = {"models": 4, "mode": "offline", "train_size": "members"}
    data = load_audit_data(tmp_path / "records.csv", label="label", id_column="record_id", features=FEATURES, membership_column="split")
    with pytest.raises(ConfigError, match=r"targets\.lr\.reference\.train_size: members means 100 records per model, .* only 40 population records; use mode: auto"):
        plans_from_config(parse_config(raw, "audit.yaml"), tmp_path, data=data)
