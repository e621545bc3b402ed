"""Soundness: an audit never "proves" more leakage than DP-SGD's accountant allows, and does find a non-private model's.

Each of 600 candidate records is made a member by an independent fair coin, so records are
independent trials (the setting of Steinke, Nasr & Jagielski 2023). privaudit trains the target on
the members — with DP-SGD at ε ∈ {1, 4, 8} (δ = 1e-5) or without DP, small and for many epochs
so that it memorises — then audits every candidate with the LOSS attack and computes the ε lower
bounds of :mod:`privaudit.metrics.epsilon` from the scores. A lower bound above the accountant's ε
would mean the audit (or the DP training) is wrong.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")

import privaudit  # noqa: E402
from privaudit.metrics.epsilon import epsilon_lower_bound, one_run_lower_bound  # noqa: E402
from privaudit.models import DPConfig, TrainingConfig, build_mlp, train_classifier  # noqa: E402
from privaudit.targets import TorchTarget  # noqa: E402

N_CANDIDATES, N_FEATURES, DELTA, CONFIDENCE = 600, 10, 1e-5, 0.95
FEATURES = [f"x{i}" for i in range(N_FEATURES)]


@pytest.fixture(scope="module")
def coin_flipped():
    """Candidates with half their labels random (memorising them is what leaks); membership by fair coins."""
    frame = privaudit.make_synthetic_tabular(N_CANDIDATES, n_numeric=N_FEATURES, label_noise=0.5, seed=0).drop(columns=["colour"])
    coins = np.random.default_rng(1).random(N_CANDIDATES) < 0.5
    frame["split"] = np.where(coins, "member", "nonmember")
    data = privaudit.audit_data_from_frame(frame, label="label", id_column="record_id", membership_column="split")
    members = frame[coins]
    return data, members[FEATURES].to_numpy(np.float32), members["label"].to_numpy()


def _audit(coin_flipped, epsilon: float | None) -> dict:
    data, x, y = coin_flipped
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        module = build_mlp(N_FEATURES, 2, hidden=[128])
        if epsilon is None:  # overfit hard: ~300 records, 200 epochs, no regularisation
            config = TrainingConfig(epochs=200, batch_size=32, learning_rate=3e-3)
        else:
            config = TrainingConfig(epochs=30, batch_size=50, learning_rate=3e-3, dp=DPConfig(target_epsilon=epsilon, delta=DELTA))
        info = train_classifier(module, x, y, config, seed=0)
    finally:
        torch.set_num_threads(before)
    result = privaudit.audit(data, [TorchTarget(module, name=f"eps={epsilon}")], ["loss"], n_bootstrap=50)
    scores, is_member = result.results[0].scores, result.is_member
    return {
        "info": info,
        "auc": result.results[0].metrics.auc,
        "accuracy": (result.targets[0].accuracy_members, result.targets[0].accuracy_nonmembers),
        "roc": epsilon_lower_bound(scores[is_member], scores[~is_member], delta=DELTA, confidence=CONFIDENCE, seed=0, split=True),
        "one_run": one_run_lower_bound(scores, is_member, delta=DELTA, confidence=CONFIDENCE, seed=0),
    }


def test_the_coins_give_independent_balanced_membership(coin_flipped):
    data, x, _ = coin_flipped
    assert data.members.size == len(x) and data.members.size + data.nonmembers.size == N_CANDIDATES
    assert 0.45 < data.members.size / N_CANDIDATES < 0.55
    assert DELTA < 1 / len(x)


@pytest.mark.parametrize("epsilon", [1.0, 4.0, 8.0])
def test_lower_bounds_never_exceed_the_accountant_s_epsilon(coin_flipped, epsilon):
    audit = _audit(coin_flipped, epsilon)
    dp = audit["info"]["dp"]
    assert dp["delta"] == DELTA and 0 < dp["epsilon"] <= epsilon + 1e-9 and dp["noise_multiplier"] > 0
    # measured (seeded): both bounds are 0 at every ε; the LOSS AUC is 0.53–0.54
    assert audit["roc"].epsilon_lb <= dp["epsilon"], (audit["roc"], dp)
    assert audit["one_run"].epsilon_lb <= dp["epsilon"], (audit["one_run"], dp)
    assert audit["auc"] < 0.6


def test_the_non_private_model_leaks_a_clearly_positive_epsilon(coin_flipped):
    audit = _audit(coin_flipped, None)
    assert audit["info"]["dp"] is None
    assert audit["accuracy"][0] == 1.0 and audit["accuracy"][1] < 0.7  # memorised its members
    # measured (seeded): AUC 0.77, split ROC bound ε ≥ 3.1, one-run bound ε ≥ 1.1
    assert audit["auc"] > 0.7
    assert audit["roc"].epsilon_lb > 1.0, audit["roc"]
    assert audit["one_run"].epsilon_lb > 0.5, audit["one_run"]
