"""Batched-ensemble trainer: equivalence with independent training, store layout, the backend, refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from sklearn.linear_model import LogisticRegression  # noqa: E402

from privaudit.data import RecordSet  # noqa: E402
from privaudit.exceptions import ConfigError, DataError  # noqa: E402
from privaudit.models import TrainingConfig, build_mlp, train_classifier  # noqa: E402
from privaudit.reference import BACKENDS, ReferenceStore, SklearnRecipe, TorchRecipe, reference_keep_mask, train_reference_models  # noqa: E402
from privaudit.reference.backend_choice import choose_local_backend  # noqa: E402
from privaudit.reference.ensemble import (  # noqa: E402
    MAX_ENSEMBLE,
    EnsembleRecipe,
    ensemble_size,
    mlp_architecture,
    train_mlp_ensemble,
)
from privaudit.reference.ensemble_backend import run_ensemble  # noqa: E402
from privaudit.targets import TorchTarget  # noqa: E402

ARCH = {"n_inputs": 6, "n_classes": 3, "hidden": [16, 16], "dropout": 0.0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, ARCH["n_inputs"])).astype(np.float32)
    return x, (np.digitize(x[:, 0] + 0.3 * x[:, 1], [-0.4, 0.4])).astype(np.int64)


def _records(n: int = 60, seed: int = 0) -> RecordSet:
    x, y = _data(n, seed)
    return RecordSet(np.array([f"r{i:04d}" for i in range(n)]), pd.DataFrame(x, columns=[f"f{j}" for j in range(x.shape[1])]), y, ("a", "b", "c"))


def _recipe(**training) -> TorchRecipe:
    config = {"epochs": 3, "batch_size": 16, "learning_rate": 1e-2, **training}
    return TorchRecipe("privaudit.models:build_mlp", dict(ARCH), TrainingConfig(**config))


def _max_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_one_ensemble_step_equals_independent_steps():
    """K=2, one step each on the same minibatches: one Adam over stacked weights == two Adams (elementwise)."""
    x, y = _data()
    config = TrainingConfig(epochs=1, batch_size=64, learning_rate=1e-2, weight_decay=1e-3, label_smoothing=0.1)
    rows = [np.arange(0, 50), np.arange(100, 140)]  # one minibatch each, of 50 and 40 rows: the shorter one is padded
    seeds = [3, 11]
    together = train_mlp_ensemble(x, y, rows, seeds, architecture=ARCH, training=config)
    for r, seed, model in zip(rows, seeds, together):
        torch.manual_seed(seed)
        alone = build_mlp(**ARCH)
        optimiser = torch.optim.Adam(alone.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        batch = torch.randperm(r.size, generator=torch.Generator().manual_seed(seed))  # the order train_classifier draws
        loss = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)(alone(torch.from_numpy(x[r][batch.numpy()])), torch.from_numpy(y[r][batch.numpy()]))
        loss.backward()
        optimiser.step()
        assert _max_difference(alone, model) < 1e-6


def test_ensemble_training_matches_train_classifier_over_epochs():
    """Several epochs with uneven last minibatches, weight decay and label smoothing stay within rounding of train_classifier."""
    x, y = _data()
    config = TrainingConfig(epochs=3, batch_size=16, learning_rate=1e-2, weight_decay=1e-3, label_smoothing=0.1)
    rows = [np.arange(0, 60), np.arange(100, 150), np.arange(10, 74)]  # 4 minibatches each; last ones of 12, 2 and 16 rows
    seeds = [3, 11, 5]
    together = train_mlp_ensemble(x, y, rows, seeds, architecture=ARCH, training=config)
    alone_in_chunk = train_mlp_ensemble(x, y, rows[1:2], seeds[1:2], architecture=ARCH, training=config)[0]
    assert _max_difference(alone_in_chunk, together[1]) < 1e-6  # a model does not depend on its chunk-mates
    for r, seed, model in zip(rows, seeds, together):
        torch.manual_seed(seed)
        reference = build_mlp(**ARCH)
        train_classifier(reference, x[r], y[r], config, seed=seed)
        assert list(model.state_dict()) == list(reference.state_dict())
        assert _max_difference(reference, model) < 1e-5


def test_ensemble_models_overfit_like_sequential_ones():
    x, y = _data(400, seed=1)
    y = np.random.default_rng(2).permutation(y)  # random labels: only memorisation fits them
    arch = {**ARCH, "hidden": [64, 64]}
    config = TrainingConfig(epochs=60, batch_size=32, learning_rate=3e-3)
    rows = [np.arange(0, 64), np.arange(64, 128)]
    models = train_mlp_ensemble(x, y, rows, [0, 1], architecture=arch, training=config)
    for r, seed, model in zip(rows, [0, 1], models):
        torch.manual_seed(seed)
        reference = build_mlp(**arch)
        train_classifier(reference, x[r], y[r], config, seed=seed)
        with torch.no_grad():
            ours = float((model(torch.from_numpy(x[r])).argmax(1).numpy() == y[r]).mean())
            theirs = float((reference(torch.from_numpy(x[r])).argmax(1).numpy() == y[r]).mean())
        assert ours > 0.9 and abs(ours - theirs) <= 0.05


def test_dropout_models_train_and_do_not_depend_on_chunk_mates():
    x, y = _data()
    arch = {**ARCH, "dropout": 0.5}
    config = TrainingConfig(epochs=2, batch_size=16)
    pair = train_mlp_ensemble(x, y, [np.arange(40), np.arange(40, 80)], [1, 2], architecture=arch, training=config)
    alone = train_mlp_ensemble(x, y, [np.arange(40, 80)], [2], architecture=arch, training=config)[0]
    assert _max_difference(pair[1], alone) < 1e-6
    assert isinstance(pair[0][2], torch.nn.Dropout) and not pair[0].training


def test_state_dict_loads_into_build_mlp_and_torch_target(tmp_path):
    recipe = EnsembleRecipe(_recipe())
    records = _records()
    model = recipe.train(records.features, records.labels, seed=4)
    fresh = build_mlp(**ARCH)
    fresh.load_state_dict(model.state_dict())  # strict: same keys and shapes
    recipe.save(model, tmp_path)
    loaded = _recipe().load(tmp_path)  # a plain TorchRecipe reads it
    assert _max_difference(loaded, model) == 0.0
    outputs = TorchTarget(loaded).predict(records)
    assert np.array_equal(outputs, recipe.predict(model, records.features))


def test_backend_writes_to_the_store_and_a_rerun_reuses(tmp_path):
    assert "ensemble" in BACKENDS
    pool = _records(60)
    keep = reference_keep_mask(len(pool), 4, seed=0)
    recipe = EnsembleRecipe(_recipe())
    store = ReferenceStore(tmp_path)
    seen = []
    first = train_reference_models(recipe, pool, keep, pool, store=store, seed=0, backend="ensemble", n_jobs=1, progress=lambda d, t, m: seen.append(d))
    assert (first.trained, first.reused) == (4, 0) and first.outputs.shape == (4, 60, 3) and seen[-1] == 4
    meta = json.loads((tmp_path / first.model_keys[0] / "meta.json").read_text())
    assert meta["recipe"]["trainer"] == "ensemble" and meta["key"] == first.model_keys[0]
    second = train_reference_models(recipe, pool, keep, pool, store=store, seed=0, backend="ensemble")
    assert (second.trained, second.reused) == (0, 4) and np.array_equal(first.outputs, second.outputs)
    # the same models through another backend: the wrapper keeps the keys, so nothing retrains
    third = train_reference_models(recipe, pool, keep, pool, store=store, seed=0, backend="sequential")
    assert third.trained == 0 and third.model_keys == first.model_keys
    # stored models are read back like any torch recipe's; a new query set only queries them
    query = _records(10, seed=3)
    fourth = train_reference_models(recipe, pool, keep, query, store=store, seed=0, backend="ensemble")
    assert (fourth.trained, fourth.queried) == (0, 4)
    model = store.load_model(first.model_keys[2], _recipe())
    assert np.array_equal(fourth.outputs[2], _recipe().predict(model, query.features))
    # ensemble-trained and sequentially trained models never share a key
    plain = train_reference_models(_recipe(), pool, keep, pool, store=store, seed=0, backend="sequential")
    assert plain.trained == 4 and not set(plain.model_keys) & set(first.model_keys)
    assert np.abs(plain.outputs - first.outputs).max() < 1e-3  # yet they are the same models up to rounding


def test_backend_trains_models_of_different_sizes_in_their_own_chunks(tmp_path):
    pool = _records(60)
    keep = np.zeros((60, 3), bool)
    keep[:50, 0], keep[10:60, 1], keep[:20, 2] = True, True, True  # 4, 4 and 2 minibatches per epoch
    recipe = EnsembleRecipe(_recipe())
    result = train_reference_models(recipe, pool, keep, pool, store=ReferenceStore(tmp_path), seed=0, backend="ensemble", n_jobs=1)
    sequential = train_reference_models(recipe, pool, keep, pool, store=ReferenceStore(tmp_path / "seq"), seed=0, backend="sequential")
    assert result.trained == 3 and np.abs(result.outputs - sequential.outputs).max() < 1e-5


def test_refusals(tmp_path):
    with pytest.raises(ConfigError, match="build_mlp"):
        EnsembleRecipe(SklearnRecipe(LogisticRegression()))
    with pytest.raises(ConfigError, match="build_mlp"):
        EnsembleRecipe(TorchRecipe("torch.nn:Identity", trust_code=True))  # a factory outside privaudit needs trust (issue 13)
    with pytest.raises(ConfigError, match="do not fit"):
        mlp_architecture(TorchRecipe("privaudit.models:build_mlp", {"n_inputs": 3}))
    x, y = _data()
    with pytest.raises(ConfigError, match="patience"):
        train_mlp_ensemble(x, y, [np.arange(10)], [0], architecture=ARCH, training=TrainingConfig(patience=5))
    with pytest.raises(DataError, match="same number of minibatches"):
        train_mlp_ensemble(x, y, [np.arange(10), np.arange(40)], [0, 1], architecture=ARCH, training=TrainingConfig(batch_size=16))
    pool = _records(40)
    keep = reference_keep_mask(40, 2, seed=0)
    for recipe, match in ((SklearnRecipe(LogisticRegression()), "only TorchRecipe"), (_recipe(), "EnsembleRecipe")):
        with pytest.raises(ConfigError, match=match):
            train_reference_models(recipe, pool, keep, pool, store=ReferenceStore(tmp_path), seed=0, backend="ensemble")
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    run_ensemble(EnsembleRecipe(_recipe()), pool, pool, "q" * 64, [], ReferenceStore(tmp_path), on_done=None)  # nothing to do


def test_ensemble_size_respects_memory_and_balances_chunks():
    config = TrainingConfig(batch_size=128)
    assert ensemble_size(ARCH, config, 3) == 3
    assert ensemble_size(ARCH, config, 100) == 25  # 4 chunks of 25, not 3 × 32 + 4
    assert ensemble_size(ARCH, config, 1000) <= MAX_ENSEMBLE
    huge = {**ARCH, "n_inputs": 4096, "hidden": [4096, 4096]}
    assert ensemble_size(huge, config, 16) < 16
    assert ensemble_size(huge, config, 16, memory_budget=1) == 1


def test_choose_local_backend_returns_a_measured_reason():
    name, reason = choose_local_backend(_recipe(), 8, 2, budget_s=0.3)
    assert name in ("ensemble", "process") and reason.startswith(name) and "measured" in reason
    assert choose_local_backend(SklearnRecipe(LogisticRegression()), 8, 2)[0] == "process"
    assert choose_local_backend(SklearnRecipe(LogisticRegression()), 8, 1)[0] == "sequential"
    assert choose_local_backend(_recipe(), 1, 1)[0] == "sequential"


def test_backend_spreads_chunks_over_worker_processes(tmp_path):
    pool = _records(60)
    keep = reference_keep_mask(len(pool), 4, seed=1)
    recipe = EnsembleRecipe(_recipe())
    done = []
    spread = train_reference_models(recipe, pool, keep, pool, store=ReferenceStore(tmp_path / "two"), seed=0, backend="ensemble", n_jobs=2, progress=lambda d, t, m: done.append(m))
    here = train_reference_models(recipe, pool, keep, pool, store=ReferenceStore(tmp_path / "one"), seed=0, backend="ensemble", n_jobs=1)
    assert spread.trained == 4 and len(done) == 5 and spread.model_keys == here.model_keys
    assert np.abs(spread.outputs - here.outputs).max() < 1e-6  # chunks of 2 in two processes == one chunk of 4 here


@pytest.mark.parametrize("trained_by", ["ensemble", "sequential"])
def test_local_backend_reuses_the_models_a_rerun_finds_in_the_store_instead_of_measuring_again(tmp_path, trained_by):
    """A rerun with backend "local" must not retrain with the other trainer because a new measurement came out the
    other way (ensemble- and sequentially trained models differ by rounding, so the figures would move)."""
    from privaudit.reference.engine import all_stored
    from privaudit.reference.plan import ReferencePlan

    pool = _records(60)
    keep = reference_keep_mask(len(pool), 4, seed=0)
    store = ReferenceStore(tmp_path)
    recipe = EnsembleRecipe(_recipe()) if trained_by == "ensemble" else _recipe()
    first = train_reference_models(recipe, pool, keep, pool, store=store, seed=0, backend=trained_by, n_jobs=1)
    plan = ReferencePlan(_recipe(), n_models=4, backend="local", n_jobs=2, store=tmp_path)
    backend, chosen, reason = plan.resolve(stored=lambda candidate: all_stored(candidate, pool, keep, store, 0))
    assert isinstance(chosen, EnsembleRecipe) == (trained_by == "ensemble") and "in the store" in reason
    again = train_reference_models(chosen, pool, keep, pool, store=store, seed=0, backend=backend, n_jobs=1)
    assert again.trained == 0 and again.model_keys == first.model_keys and np.array_equal(again.outputs, first.outputs)
    # nothing stored under any recipe (another seed): the choice is measured as before
    backend, _, reason = plan.resolve(stored=lambda candidate: all_stored(candidate, pool, keep, store, 1))
    assert "in the store" not in reason and backend in ("ensemble", "process")
    # a recipe that never trains as an ensemble (scikit-learn) is only looked up as itself
    sk = ReferencePlan(SklearnRecipe(LogisticRegression()), n_models=4, backend="local", n_jobs=1, store=tmp_path)
    assert sk.resolve(stored=lambda candidate: False)[0] == "sequential"
