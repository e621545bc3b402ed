"""DP-SGD training through Opacus: the accountant's ε, reproducibility, refusals, and DP settings in configs and recipes."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")

from privaudit.config import parse_config  # noqa: E402
from privaudit.data import RecordSet  # noqa: E402
from privaudit.exceptions import ConfigError, MissingDependencyError  # noqa: E402
from privaudit.models import DPConfig, TrainingConfig, build_mlp, train_classifier  # noqa: E402
from privaudit.reference import ReferenceStore, TorchRecipe, reference_keep_mask, train_reference_models  # noqa: E402
from privaudit.reference.backend_choice import choose_local_backend  # noqa: E402
from privaudit.reference.ensemble import EnsembleRecipe, mlp_architecture  # noqa: E402
from privaudit.reference.plan import plans_from_config  # noqa: E402

N_FEATURES = 8


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)


def _accuracy(module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        return float((module(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def _train(dp: DPConfig | None, *, seed: int = 0, n: int = 600, **training):
    x, y = _data(n)
    torch.manual_seed(seed)
    module = build_mlp(N_FEATURES, 2, hidden=[32], dropout=0.1)
    config = TrainingConfig(**{"epochs": 4, "batch_size": 60, "learning_rate": 1e-2, **training}, dp=dp)
    return module, train_classifier(module, x, y, config, seed=seed)


@pytest.mark.parametrize("accountant", ["rdp", "prv", "gdp"])
def test_dp_training_spends_at_most_the_target_epsilon_and_learns(accountant):
    module, info = _train(DPConfig(target_epsilon=2.0, delta=1e-5, max_grad_norm=1.0, accountant=accountant), weight_decay=1e-4, label_smoothing=0.05)
    dp = info["dp"]
    assert dp["accountant"] == accountant and dp["delta"] == 1e-5 and dp["target_epsilon"] == 2.0
    assert 0 < dp["epsilon"] <= 2.0 + 1e-9, dp
    assert dp["epsilon"] > 1.5, dp  # the noise is calibrated to the budget, not far below it
    assert dp["noise_multiplier"] > 0.1
    assert dp["steps"] == 4 * 10 and dp["sample_rate"] == pytest.approx(0.1)
    x_test, y_test = _data(400, seed=1)
    assert _accuracy(module, x_test, y_test) > 0.75  # chance is about 0.5


def test_dp_training_is_reproducible_and_leaves_a_plain_module():
    first, info = _train(DPConfig(target_epsilon=4.0, delta=1e-5))
    second, _ = _train(DPConfig(target_epsilon=4.0, delta=1e-5))
    other_seed, _ = _train(DPConfig(target_epsilon=4.0, delta=1e-5), seed=1)
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), other_seed.state_dict().values()))
    assert type(first) is torch.nn.Sequential and list(first.state_dict()) == list(build_mlp(N_FEATURES, 2, hidden=[32], dropout=0.1).state_dict())
    assert not any(hasattr(p, "grad_sample") for p in first.parameters())  # Opacus' hooks and per-record gradients are gone
    assert not first._forward_hooks and not any(m._forward_hooks or m._backward_hooks for m in first.modules())


def test_non_private_training_reports_no_dp():
    _, info = _train(None)
    assert info["dp"] is None and info["epochs_run"] == 4


def test_dp_with_early_stopping_spends_only_the_steps_it_ran():
    x, y = _data(600)
    vx, vy = _data(200, seed=2)
    torch.manual_seed(0)
    module = build_mlp(N_FEATURES, 2, hidden=[32])
    info = train_classifier(module, x, y, TrainingConfig(epochs=40, batch_size=60, learning_rate=5e-2, patience=1, dp=DPConfig(8.0, 1e-5)), seed=0, validation=(vx, vy))
    assert info["best_validation_loss"] is not None
    assert info["epochs_run"] < 40, "a learning rate this high should stop early"
    assert info["dp"]["steps"] == 10 * info["epochs_run"]
    assert info["dp"]["epsilon"] < 8.0 - 0.5  # fewer steps than planned spend less than the budget


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"target_epsilon": 0.0, "delta": 1e-5}, "target_epsilon must be a finite number > 0"),
        ({"target_epsilon": -1.0, "delta": 1e-5}, "target_epsilon"),
        ({"target_epsilon": float("inf"), "delta": 1e-5}, "target_epsilon"),
        ({"target_epsilon": 1.0, "delta": 0.0}, "delta must lie strictly between 0 and 1"),
        ({"target_epsilon": 1.0, "delta": 1.0}, "delta"),
        ({"target_epsilon": 1.0, "delta": 1e-5, "max_grad_norm": 0.0}, "max_grad_norm"),
        ({"target_epsilon": 1.0, "delta": 1e-5, "accountant": "moments"}, "accountant must be one of rdp, prv, gdp"),
    ],
)
def test_bad_dp_settings_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        DPConfig(**kwargs)


def test_delta_must_be_below_one_over_n():
    with pytest.raises(ConfigError, match=r"not below 1/n = 0.01 for 100 training records.*delta: 0.001"):
        _train(DPConfig(target_epsilon=1.0, delta=0.01), n=100)


def test_missing_opacus_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "opacus", None)  # import opacus now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'privaudit\[dp\]'"):
        _train(DPConfig(target_epsilon=1.0, delta=1e-5))


def test_layers_dp_sgd_cannot_train_are_refused_clearly():
    x, y = _data(200)
    module = torch.nn.Sequential(torch.nn.Linear(N_FEATURES, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    with pytest.raises(ConfigError, match="cannot train with DP-SGD.*BatchNorm"):
        train_classifier(module, x, y, TrainingConfig(epochs=1, dp=DPConfig(1.0, 1e-5)))


# -- recipes, the ensemble trainer and configs ------------------------------------------------------------------


def _recipe(dp: DPConfig | None, **training) -> TorchRecipe:
    config = TrainingConfig(**{"epochs": 2, "batch_size": 20, "learning_rate": 1e-2, **training}, dp=dp)
    return TorchRecipe("privaudit.models:build_mlp", {"n_inputs": N_FEATURES, "n_classes": 2, "hidden": [8]}, config)


def test_recipe_fingerprint_tracks_every_dp_setting():
    base = DPConfig(target_epsilon=4.0, delta=1e-5)
    variants = [None, base, DPConfig(8.0, 1e-5), DPConfig(4.0, 1e-6), DPConfig(4.0, 1e-5, max_grad_norm=2.0), DPConfig(4.0, 1e-5, accountant="prv")]
    prints = [_recipe(dp).fingerprint() for dp in variants]
    keys = {str(sorted(p.items())) for p in prints}
    assert len(keys) == len(variants)
    assert "dp" not in prints[0]["training"] and "opacus" not in prints[0]  # non-DP store keys are unchanged by the DP feature
    assert prints[1]["training"]["dp"] == {"target_epsilon": 4.0, "delta": 1e-5, "max_grad_norm": 1.0, "accountant": "rdp"}
    assert prints[1]["opacus"]
    assert _recipe(base).fingerprint() == prints[1]


def test_ensemble_trainer_refuses_dp_recipes():
    recipe = _recipe(DPConfig(4.0, 1e-5))
    with pytest.raises(ConfigError, match="does not do DP-SGD"):
        mlp_architecture(recipe)
    with pytest.raises(ConfigError, match="does not do DP-SGD"):
        EnsembleRecipe(recipe)
    backend, reason = choose_local_backend(recipe, 8, n_jobs=2)
    assert backend == "process" and "ensemble" in reason


def test_dp_reference_models_train_and_are_cached(tmp_path):
    x, y = _data(120)
    pool = RecordSet(np.array([f"r{i:03d}" for i in range(120)]), pd.DataFrame(x, columns=[f"f{j}" for j in range(N_FEATURES)]), y, ("no", "yes"))
    keep = reference_keep_mask(120, 2, seed=0)
    store = ReferenceStore(tmp_path)
    private = _recipe(DPConfig(4.0, 1e-5))
    first = train_reference_models(private, pool, keep, pool, store=store, seed=0, backend="sequential")
    plain = train_reference_models(_recipe(None), pool, keep, pool, store=store, seed=0, backend="sequential")
    again = train_reference_models(private, pool, keep, pool, store=store, seed=0, backend="sequential")
    assert first.trained == 2 and plain.trained == 2 and again.reused == 2
    assert set(first.model_keys).isdisjoint(plain.model_keys)
    assert not np.allclose(first.outputs, plain.outputs)
    assert np.array_equal(again.outputs, first.outputs)


def _config(training: dict, factory_kwargs: dict | None = None) -> dict:
    return {
        "data": {"path": "records.csv", "label": "y", "membership": {"column": "split"}},
        "compute": {"backend": "sequential"},
        "targets": [{
            "name": "net", "type": "torch", "weights": "net.safetensors", "factory": "privaudit.models:build_mlp",
            "factory_kwargs": factory_kwargs or {"n_inputs": N_FEATURES, "n_classes": 2},
            "reference": {"models": 2, "training": training},
        }],
    }


def test_every_regularisation_and_dp_setting_reaches_the_recipe_from_yaml(tmp_path):
    training = {
        "epochs": 7, "batch_size": 32, "learning_rate": 0.01, "weight_decay": 0.001, "label_smoothing": 0.1,
        "dp": {"target_epsilon": 3.0, "delta": 1e-6, "max_grad_norm": 0.5, "accountant": "prv"},
    }
    config = parse_config(_config(training, {"n_inputs": N_FEATURES, "n_classes": 2, "dropout": 0.25}), "audit.yaml")
    recipe = plans_from_config(config, tmp_path)["net"].recipe
    assert recipe.training == TrainingConfig(epochs=7, batch_size=32, learning_rate=0.01, weight_decay=0.001, label_smoothing=0.1, dp=DPConfig(3.0, 1e-6, 0.5, "prv"))
    assert recipe.factory_kwargs["dropout"] == 0.25 and any(isinstance(m, torch.nn.Dropout) for m in recipe._build().modules())
    without = plans_from_config(parse_config(_config({"epochs": 7}), "audit.yaml"), tmp_path)["net"].recipe
    assert without.training.dp is None


@pytest.mark.parametrize(
    "dp, message",
    [
        ({"target_epsilon": 0, "delta": 1e-5}, r"targets\.0\.reference\.training\.dp\.target_epsilon: Input should be greater than 0"),
        ({"target_epsilon": 1, "delta": 1.5}, r"dp\.delta: Input should be less than 1"),
        ({"target_epsilon": 1, "delta": 1e-5, "accountant": "moments"}, r"dp\.accountant: Input should be 'rdp', 'prv' or 'gdp'"),
        ({"target_epsilon": 1, "delta": 1e-5, "max_grad_norm": -1}, r"dp\.max_grad_norm: Input should be greater than 0"),
        ({"epsilon": 1, "delta": 1e-5}, r"unknown key 'targets\.0\.reference\.training\.dp\.epsilon'; allowed keys here: target_epsilon, delta, max_grad_norm, accountant"),
    ],
)
def test_bad_dp_config_names_the_key(dp, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(_config({"epochs": 3, "dp": dp}), "audit.yaml")


def test_early_stopping_in_a_reference_recipe_is_refused_with_the_allowed_keys():
    with pytest.raises(ConfigError, match=r"unknown key 'targets\.0\.reference\.training\.patience'; allowed keys here: .*label_smoothing, dp"):
        parse_config(_config({"epochs": 3, "patience": 5}), "audit.yaml")


def test_ghost_clipping_trains_the_same_model_as_per_record_gradients(monkeypatch):
    """privaudit clips with Opacus' ghost clipping (fast); it must equal explicit per-record gradients ("hooks"), empty Poisson batches included."""
    import privaudit.models as models

    assert models.GRAD_SAMPLE_MODE == "ghost"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, N_FEATURES)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    config = TrainingConfig(epochs=20, batch_size=3, learning_rate=1e-2, weight_decay=1e-3, label_smoothing=0.1, dp=DPConfig(4.0, 1e-5))
    trained = {}
    for mode in ("hooks", "ghost"):
        monkeypatch.setattr(models, "GRAD_SAMPLE_MODE", mode)
        torch.manual_seed(0)
        module = build_mlp(N_FEATURES, 2, hidden=[16], dropout=0.1)
        info = train_classifier(module, x, y, config, seed=0)
        assert info["dp"]["steps"] == 200  # at rate 0.1 about 0.9^30 ≈ 4 % of the batches are empty
        trained[mode] = [p.detach().clone() for p in module.parameters()]
    assert all(torch.isfinite(p).all() for p in trained["ghost"])
    assert max(float((a - b).abs().max()) for a, b in zip(trained["hooks"], trained["ghost"])) < 1e-5
