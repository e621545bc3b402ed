"""Targets: what each kind answers, how it is loaded from files (never pickle), and what it refuses."""

from __future__ import annotations

import importlib
import pickle
import sys
import uuid

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from privaudit.pipeline import audit
from privaudit.data import AuditData, RecordSet
from privaudit.exceptions import CapabilityError, ConfigError, DataError, PrivauditError, TargetError, UntrustedCodeError
from privaudit.signals import compute_signals
from privaudit.targets import TARGET_TYPES, PrecomputedTarget, SklearnTarget, Target, TorchTarget, load_target

import torch  # the torch extra is part of the test environment  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

N, N_FEATURES = 24, 3
CLASSES = ("cat", "dog", "emu")


def _records(n: int = N, classes=CLASSES, seed: int = 0) -> RecordSet:
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(rng.normal(size=(n, N_FEATURES)), columns=[f"f{i}" for i in range(N_FEATURES)])
    labels = np.arange(n) % len(classes)
    return RecordSet(np.array([f"r{i:03d}" for i in range(n)]), features, labels, tuple(classes))


def _audit_data(records: RecordSet) -> AuditData:
    n = len(records)
    return AuditData(records, np.arange(0, n // 2), np.arange(n // 2, n), np.empty(0, dtype=np.intp))


def _fitted_logistic(records: RecordSet) -> LogisticRegression:
    y = np.array(records.classes)[records.labels]
    return LogisticRegression(max_iter=500).fit(records.features, y)


def test_every_target_kind_has_a_loader():
    assert {"sklearn", "torch", "precomputed"} <= set(TARGET_TYPES.names())


# --- scikit-learn ------------------------------------------------------------------------------------------------


class ProbabilityTable:
    """Not a scikit-learn estimator: only ``predict_proba`` (a target is a capability, not a base class)."""

    def __init__(self, probabilities):
        self.probabilities = np.asarray(probabilities)
        self.seen = []

    def predict_proba(self, features):
        self.seen.append(features)
        return self.probabilities


def test_sklearn_target_accepts_any_object_with_predict_proba():
    records = _records()
    probabilities = np.tile([0.7, 0.2, 0.1], (N, 1))
    model = ProbabilityTable(probabilities)
    target = SklearnTarget(model, name="table")
    assert isinstance(target, Target)
    assert target.output_kind == "probabilities"
    np.testing.assert_array_equal(target.predict(records), probabilities)
    assert model.seen[0] is records.features  # the feature DataFrame is passed unchanged
    # without classes_ the columns are taken in data-class order, so their number must match
    with pytest.raises(TargetError, match="shape"):
        SklearnTarget(ProbabilityTable(np.tile([0.4, 0.3, 0.2, 0.1], (N, 1)))).predict(records)


def test_sklearn_target_reorders_columns_to_the_data_classes():
    records = _records()
    model = _fitted_logistic(records)
    reversed_records = RecordSet(records.ids, records.features, len(CLASSES) - 1 - records.labels, tuple(reversed(CLASSES)))
    out = SklearnTarget(model).predict(reversed_records)
    np.testing.assert_allclose(out, model.predict_proba(records.features)[:, ::-1])


def test_sklearn_target_refuses_mismatched_classes_and_missing_methods():
    records = _records()
    model = _fitted_logistic(records)
    with pytest.raises(TargetError, match="do not match"):
        SklearnTarget(model, name="m").predict(_records(classes=("cat", "dog", "yak")))
    with pytest.raises(CapabilityError, match="predict_proba"):
        SklearnTarget(object(), name="bare")
    with pytest.raises(CapabilityError, match="logits"):
        SklearnTarget(model, output_kind="logits")


def test_sklearn_target_wrong_features_is_a_target_error():
    records = _records()
    model = _fitted_logistic(records)
    renamed = RecordSet(records.ids, records.features.rename(columns={"f0": "other"}), records.labels, records.classes)
    with pytest.raises(TargetError, match="failed on the records' features"):
        SklearnTarget(model, name="m").predict(renamed)


def test_sklearn_label_target_returns_class_indices():
    records = _records()
    model = _fitted_logistic(records)
    target = SklearnTarget(model, output_kind="labels")
    expected = [CLASSES.index(c) for c in model.predict(records.features)]
    np.testing.assert_array_equal(target.predict(records), expected)


def test_sklearn_target_from_skops_file(tmp_path):
    import skops.io as sio

    records = _records()
    model = _fitted_logistic(records)
    sio.dump(model, tmp_path / "model.skops")
    target = load_target({"type": "sklearn", "path": "model.skops"}, tmp_path, "from_file")
    assert isinstance(target, SklearnTarget) and target.name == "from_file"
    np.testing.assert_allclose(target.predict(records), model.predict_proba(records.features))


def test_skops_tree_types_still_need_listing(tmp_path):
    import skops.io as sio

    records = _records()
    model = HistGradientBoostingClassifier(max_iter=3).fit(records.features, np.array(CLASSES)[records.labels])
    sio.dump(model, tmp_path / "hgb.skops")
    untrusted = sio.get_untrusted_types(file=tmp_path / "hgb.skops")
    assert untrusted  # the case under test: skops does not trust everything in this file by default
    spec = {"type": "sklearn", "path": "hgb.skops"}
    with pytest.raises(ConfigError, match="trusted_types") as info:  # skops warns about tree node arrays: never allowed blindly
        load_target(spec, tmp_path, "hgb")
    assert all(t in str(info.value) for t in untrusted)
    target = load_target({**spec, "trusted_types": list(untrusted)}, tmp_path, "hgb")
    np.testing.assert_allclose(target.predict(records), model.predict_proba(records.features))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_skops_classes_in_the_allow_list_load_without_listing(tmp_path):
    import skops.io as sio
    from sklearn.neural_network import MLPClassifier

    records = _records()
    model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0).fit(records.features, np.array(CLASSES)[records.labels])
    sio.dump(model, tmp_path / "mlp.skops")
    assert sio.get_untrusted_types(file=tmp_path / "mlp.skops")  # skops alone would not load it
    target = load_target({"type": "sklearn", "path": "mlp.skops"}, tmp_path, "mlp")
    np.testing.assert_allclose(target.predict(records), model.predict_proba(records.features))


def test_skops_file_with_types_outside_the_allow_list_needs_them_listed(tmp_path):
    import math

    import skops.io as sio
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from privaudit.exceptions import UntrustedCodeError

    records = _records()
    model = make_pipeline(FunctionTransformer(inverse_func=math.fabs, check_inverse=False), LogisticRegression(max_iter=500))
    model.fit(records.features, np.array(CLASSES)[records.labels])
    sio.dump(model, tmp_path / "piped.skops")
    assert "math.fabs" in sio.get_untrusted_types(file=tmp_path / "piped.skops")  # the case under test
    spec = {"type": "sklearn", "path": "piped.skops"}
    with pytest.raises(UntrustedCodeError, match="trusted_types") as info:
        load_target(spec, tmp_path, "piped")
    assert "math.fabs" in str(info.value) and "piped.skops" in str(info.value)
    target = load_target({**spec, "trusted_types": ["math.fabs"]}, tmp_path, "piped")
    np.testing.assert_allclose(target.predict(records), model.predict_proba(records.features))


class _RunsOnUnpickle:
    """A pickle that creates a marker file when loaded: loading it must never happen."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("filename", ["model.pkl", "model.pickle", "model.joblib", "model.skops"])
def test_pickle_files_are_never_loaded(tmp_path, filename):
    marker = tmp_path / "unpickled"
    (tmp_path / filename).write_bytes(pickle.dumps(_RunsOnUnpickle(marker)))
    with pytest.raises((ConfigError, TargetError)) as info:
        load_target({"type": "sklearn", "path": filename}, tmp_path, "evil")
    assert filename in str(info.value)
    if not filename.endswith(".skops"):
        assert "pickle files are refused" in str(info.value)
    assert not marker.exists(), "the pickle was executed"


def test_pickled_model_loads_only_when_trusted(tmp_path):
    import joblib

    from privaudit.exceptions import UntrustedCodeError

    records = _records()
    model = _fitted_logistic(records)
    joblib.dump(model, tmp_path / "model.joblib")
    with pytest.raises(UntrustedCodeError, match="pickle files are refused unless trusted"):
        load_target({"type": "sklearn", "path": "model.joblib"}, tmp_path, "m")
    target = load_target({"type": "sklearn", "path": "model.joblib"}, tmp_path, "m", trust_code=True)
    np.testing.assert_allclose(target.predict(records), model.predict_proba(records.features))


def test_missing_model_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_target({"type": "sklearn", "path": "absent.skops"}, tmp_path, "m")


# --- torch ---------------------------------------------------------------------------------------------------


def _linear(n_inputs: int = N_FEATURES, n_classes: int = len(CLASSES)):
    torch.manual_seed(0)
    return torch.nn.Linear(n_inputs, n_classes)


def test_torch_target_from_a_module():
    records = _records()
    module = _linear()
    target = TorchTarget(module, name="net", batch_size=5)  # several batches
    assert isinstance(target, Target) and target.output_kind == "logits"
    out = target.predict(records)
    with torch.no_grad():
        expected = module(torch.tensor(records.features.to_numpy(), dtype=torch.float32)).double().numpy()
    assert out.shape == (N, len(CLASSES)) and out.dtype == np.float64
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    signals = compute_signals(target, records, ["loss", "correctness"])
    assert np.all(np.isfinite(signals["loss"]))


def test_torch_target_refuses_non_numeric_features_and_label_outputs():
    records = _records()
    features = records.features.assign(colour="red")
    with pytest.raises(DataError, match="colour"):
        TorchTarget(_linear(N_FEATURES + 1)).predict(RecordSet(records.ids, features, records.labels, records.classes))
    with pytest.raises(CapabilityError, match="labels"):
        TorchTarget(_linear(), output_kind="labels")


def test_torch_target_wrong_output_width_is_a_target_error():
    with pytest.raises(TargetError, match="shape"):
        TorchTarget(_linear(n_classes=2), name="narrow").predict(_records())


def _factory_module(tmp_path) -> str:
    """Write a factory module next to the 'config' under a unique name (modules are cached by name)."""
    name = f"factory_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(
        "import torch\n\n"
        "def build(n_inputs, n_classes, hidden=8):\n"
        "    return torch.nn.Sequential(torch.nn.Linear(n_inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_classes))\n\n"
        "def not_a_module(**kwargs):\n"
        "    return 'hello'\n"
    )
    return name


def test_torch_target_from_safetensors_and_factory(tmp_path):
    records = _records()
    name = _factory_module(tmp_path)
    spec = {"type": "torch", "weights": "w.safetensors", "factory": f"{name}:build", "factory_kwargs": {"n_inputs": N_FEATURES, "n_classes": 3}}
    torch.manual_seed(1)
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module(name).build(N_FEATURES, 3)
    finally:
        sys.path.remove(str(tmp_path))
    save_file(module.state_dict(), str(tmp_path / "w.safetensors"))
    with pytest.raises(UntrustedCodeError, match=f"'{name}:build' would import module '{name}'"):
        load_target(spec, tmp_path, "net")  # code next to the config runs only when trusted (issue 13)
    target = load_target(spec, tmp_path, "net", trust_code=True)
    assert isinstance(target, TorchTarget) and target.name == "net"
    with torch.no_grad():
        expected = module(torch.tensor(records.features.to_numpy(), dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(target.predict(records), expected, rtol=1e-6)
    assert str(tmp_path) not in sys.path, "the config folder is taken off sys.path again"


def test_torch_target_with_packaged_factory(tmp_path):
    from privaudit.models import build_mlp

    module = build_mlp(N_FEATURES, 3, hidden=[4])
    save_file(module.state_dict(), str(tmp_path / "mlp.safetensors"))
    spec = {"type": "torch", "weights": "mlp.safetensors", "factory": "privaudit.models:build_mlp", "factory_kwargs": {"n_inputs": N_FEATURES, "n_classes": 3, "hidden": [4]}}
    out = load_target(spec, tmp_path, "mlp").predict(_records())
    assert out.shape == (N, 3) and np.all(np.isfinite(out))


def test_torch_loader_refusals(tmp_path):
    name = _factory_module(tmp_path)
    kwargs = {"n_inputs": N_FEATURES, "n_classes": 3}
    save_file(_linear().state_dict(), str(tmp_path / "linear.safetensors"))
    torch.save(_linear().state_dict(), tmp_path / "linear.pt")
    base = {"type": "torch", "factory": f"{name}:build", "factory_kwargs": kwargs}
    cases = [
        ({**base, "weights": "linear.pt"}, ConfigError, "pickled .pt files are refused"),
        ({**base, "weights": "absent.safetensors"}, ConfigError, "not found"),
        ({**base, "weights": "linear.safetensors"}, TargetError, "does not fit the architecture"),
        ({**base, "weights": "linear.safetensors", "factory": f"{name}:not_a_module"}, ConfigError, "not a torch.nn.Module"),
        ({**base, "weights": "linear.safetensors", "factory": f"{name}:absent"}, ConfigError, "has no attribute 'absent'"),
        ({**base, "weights": "linear.safetensors", "factory": "no_such_module_xyz:build"}, ConfigError, "cannot import module"),
        ({**base, "weights": "linear.safetensors", "factory": "no_colon"}, ConfigError, "module:function"),
    ]
    for spec, error, match in cases:
        with pytest.raises(error, match=match):
            load_target(spec, tmp_path, "net", trust_code=True)


# --- precomputed ---------------------------------------------------------------------------------------------


def _table(records: RecordSet, values: np.ndarray, columns=None) -> pd.DataFrame:
    columns = list(records.classes) if columns is None else columns
    table = pd.DataFrame(values, columns=columns)
    table.insert(0, "record_id", records.ids)
    return table.sample(frac=1.0, random_state=0)  # rows in another order than the data


def test_precomputed_probabilities_in_class_order():
    records = _records()
    probabilities = np.random.default_rng(0).dirichlet(np.ones(3), N)
    table = _table(records, probabilities)[["record_id", "emu", "cat", "dog"]]  # columns shuffled too
    target = PrecomputedTarget(table, name="vendor")
    assert isinstance(target, Target)
    np.testing.assert_allclose(target.predict(records), probabilities)
    np.testing.assert_allclose(target.predict(records.subset(np.array([5, 1]))), probabilities[[5, 1]])


def test_precomputed_logits_and_explicit_columns():
    records = _records()
    logits = np.random.default_rng(1).normal(size=(N, 3)) * 10
    table = _table(records, logits, columns=["z0", "z1", "z2"])
    target = PrecomputedTarget(table, output_kind="logits", columns=["z0", "z1", "z2"])
    np.testing.assert_allclose(target.predict(records), logits)
    loss = compute_signals(target, records, ["loss"])["loss"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    expected = -(shifted[np.arange(N), records.labels] - np.log(np.exp(shifted).sum(axis=1)))
    np.testing.assert_allclose(loss, expected, rtol=1e-7, atol=1e-12)


def test_precomputed_labels():
    records = _records()
    predicted = np.array(CLASSES)[(records.labels + (np.arange(N) % 4 == 0)) % 3]
    target = PrecomputedTarget(pd.DataFrame({"record_id": records.ids, "prediction": predicted}), output_kind="labels")
    out = target.predict(records)
    np.testing.assert_array_equal(out, [CLASSES.index(p) for p in predicted])
    np.testing.assert_array_equal(compute_signals(target, records, ["correctness"])["correctness"], (np.arange(N) % 4 != 0).astype(float))
    unknown = PrecomputedTarget(pd.DataFrame({"record_id": records.ids, "prediction": "yak"}), output_kind="labels", source="labels.csv")
    with pytest.raises(DataError, match="yak"):
        unknown.predict(records)


def test_precomputed_rows_not_summing_to_one(tmp_path):
    records = _records()
    values = np.random.default_rng(2).dirichlet(np.ones(3), N)
    values[4] *= 1.5
    path = tmp_path / "outputs.csv"
    _table(records, values).to_csv(path, index=False)
    target = load_target({"type": "precomputed", "path": "outputs.csv"}, tmp_path, "vendor")
    with pytest.raises(DataError, match="sum to 1") as info:
        compute_signals(target, records, ["loss"])
    message = str(info.value)
    assert "outputs.csv" in message and "record r004" in message and "logits" in message


def test_precomputed_missing_ids(tmp_path):
    records = _records()
    table = _table(records, np.full((N, 3), 1 / 3))
    table = table[table.record_id != "r007"]
    target = PrecomputedTarget(table, source="outputs.csv")
    with pytest.raises(DataError, match="no outputs for 1 audited records") as info:
        target.predict(records)
    assert "r007" in str(info.value) and "outputs.csv" in str(info.value)


def test_precomputed_misspelt_class_column_is_an_error_not_a_silent_swap():
    """Issue 12's case: class columns '1' and 'O' (letter O for 0), '1' first. The file's column order was taken as the
    class order, swapping the classes, so loss ranked records backwards (true AUC 0.73 reported as 0.27); now an error."""
    from privaudit.metrics import roc_auc

    rng = np.random.default_rng(4)
    n = 400
    labels = rng.integers(0, 2, n)
    is_member = np.arange(n) < n // 2
    p_true = np.clip(np.where(is_member, 0.85, 0.7) + rng.normal(scale=0.12, size=n), 0.01, 0.99)
    p1 = np.where(labels == 1, p_true, 1 - p_true)
    records = RecordSet(np.array([f"r{i:04d}" for i in range(n)]), pd.DataFrame(index=range(n)), labels, (0, 1))
    exact = pd.DataFrame({"record_id": records.ids, "1": p1, "0": 1 - p1})  # named after the classes, in another order
    loss = compute_signals(PrecomputedTarget(exact, name="vendor"), records, ["loss"])["loss"]
    assert roc_auc(-loss, is_member) > 0.6  # the leak is there when the columns are matched by name
    misspelt = exact.rename(columns={"0": "O"})
    with pytest.raises(DataError) as info:
        PrecomputedTarget(misspelt, name="vendor", source="vendor.csv").predict(records)
    message = str(info.value)
    assert "vendor.csv" in message and "['0']" in message and "['O']" in message and "targets.vendor.columns" in message
    # listing the columns in class order is the documented way out
    listed = PrecomputedTarget(misspelt, name="vendor", columns=["O", "1"])
    np.testing.assert_allclose(listed.predict(records), np.c_[1 - p1, p1])


def test_precomputed_columns_and_id_column_are_validated():
    records = _records()
    table = _table(records, np.full((N, 3), 1 / 3))
    for bad in (["cat", "cat", "dog"], ["record_id", "cat", "dog"], "cat,dog,emu", [], ["cat", 3, "emu"]):
        with pytest.raises(ConfigError, match="targets.vendor.columns"):
            PrecomputedTarget(table, name="vendor", columns=bad)
    with pytest.raises(ConfigError, match="targets.vendor.id_column"):
        PrecomputedTarget(table, name="vendor", id_column=7)
    with pytest.raises(DataError, match="targets.vendor.columns"):
        PrecomputedTarget(table.assign(extra=1), name="vendor", output_kind="labels").predict(records)
    # case matters: 'Cat' is not 'cat'
    with pytest.raises(DataError, match=r"\['cat'\].*\['Cat'\]"):
        PrecomputedTarget(table.rename(columns={"cat": "Cat"}), name="vendor").predict(records)


def test_precomputed_table_problems():
    records = _records()
    table = _table(records, np.full((N, 3), 1 / 3))
    with pytest.raises(DataError, match="id column 'uid' not found"):
        PrecomputedTarget(table, id_column="uid")
    doubled = pd.concat([table, table.iloc[:1]])
    with pytest.raises(DataError, match="duplicate ids"):
        PrecomputedTarget(doubled)
    with pytest.raises(DataError, match="output columns"):
        PrecomputedTarget(table.drop(columns="emu")).predict(records)
    with pytest.raises(DataError, match="not found"):
        PrecomputedTarget(table, columns=["cat", "dog", "gnu"]).predict(records)
    with pytest.raises(CapabilityError):
        PrecomputedTarget(table, output_kind="embeddings")


# --- capability: label-only target with a probability attack -------------------------------------------------


def _label_only_target(records: RecordSet) -> PrecomputedTarget:
    predicted = np.array(CLASSES)[records.labels]
    return PrecomputedTarget(pd.DataFrame({"record_id": records.ids, "prediction": predicted}), name="label-api", output_kind="labels")


@pytest.mark.parametrize("attack", ["loss", "entropy", {"name": "threshold", "signal": "confidence"}])
def test_label_only_target_with_probability_attack_is_a_capability_error(attack):
    records = _records()
    with pytest.raises(CapabilityError, match="label-api") as info:
        audit(_audit_data(records), [_label_only_target(records)], [attack], n_bootstrap=50)
    assert "correctness" in str(info.value)  # says what works instead
    assert isinstance(info.value, PrivauditError) and isinstance(info.value, TypeError)


def test_label_only_target_audits_with_correctness():
    records = _records()
    result = audit(_audit_data(records), [_label_only_target(records)], n_bootstrap=50)
    assert [r.attack for r in result.results] == ["threshold[correctness]"]
    assert result.targets[0].output_kind == "labels"
    assert result.targets[0].accuracy_members == 1.0
