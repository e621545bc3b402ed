"""LiRA's variance by evidence: ``variance="auto"`` picks per-example variances only with enough models on every side."""

from __future__ import annotations

import numpy as np
import pytest

from privaudit.attacks import LiRAAttack, build_attack
from privaudit.attacks.lira import PER_EXAMPLE_MIN_MODELS, resolve_variance
from privaudit.attacks.reference import ReferenceSignals
from privaudit.exceptions import ConfigError

N = PER_EXAMPLE_MIN_MODELS


def half_mask(n_records: int, n_models: int, rng) -> np.ndarray:
    """Each record IN exactly half of the models."""
    return np.argsort(rng.random((n_records, n_models)), axis=1) < n_models // 2


def test_auto_needs_the_minimum_on_every_side_online_and_only_out_offline():
    rng = np.random.default_rng(0)
    assert resolve_variance("auto", half_mask(5, 2 * N, rng), mode="online") == "per_example"
    below = half_mask(5, 2 * N, rng)
    below[0, np.flatnonzero(~below[0])[0]] = True  # record 0: one OUT model fewer than the minimum
    assert resolve_variance("auto", below, mode="online") == "global"
    assert resolve_variance("auto", half_mask(5, 2 * N - 2, rng), mode="online") == "global"
    # offline reads OUT models only: N OUT models suffice whatever the IN side holds
    assert resolve_variance("auto", np.zeros((5, N), bool), mode="offline") == "per_example"
    assert resolve_variance("auto", np.zeros((5, N - 1), bool), mode="offline") == "global"
    assert resolve_variance("auto", half_mask(5, 2 * N, rng), mode="offline") == "per_example"
    for explicit in ("per_example", "global"):
        assert resolve_variance(explicit, np.zeros((5, 1), bool), mode="offline") == explicit


@pytest.mark.parametrize("n_models, expected", [(2 * N - 2, "global"), (2 * N, "per_example")])
@pytest.mark.parametrize("mode", ["online", "offline"])
def test_auto_scores_as_the_variance_it_chose_and_its_name_says_which(n_models, expected, mode):
    rng = np.random.default_rng(n_models)
    n = 40
    in_mask = half_mask(n, n_models, rng) if mode == "online" else np.zeros((n, n_models), bool)
    if mode == "offline" and expected == "global":
        in_mask[:, : N + 1] = True  # fewer than N OUT models for every record
    spread = rng.uniform(0.2, 3.0, n)[:, None]  # per-record spreads: per-example and global variances differ
    reference = rng.normal(0.0, 1.0, (n, n_models)) * spread + 2.0 * in_mask
    reference_signals = ReferenceSignals({"logit_confidence": reference}, in_mask)
    target = {"logit_confidence": rng.normal(size=n)}
    auto = LiRAAttack(mode=mode)
    assert auto.display_name == f"lira[{mode},logit_confidence]"  # the default's name until scored
    scores = auto.score(target, np.zeros(n), reference_signals)
    explicit = LiRAAttack(mode=mode, variance=expected)
    np.testing.assert_array_equal(scores, explicit.score(target, np.zeros(n), reference_signals))
    other = LiRAAttack(mode=mode, variance="global" if expected == "per_example" else "per_example")
    assert not np.allclose(scores, other.score(target, np.zeros(n), reference_signals))
    assert auto.variance_used_ == expected and auto.display_name == explicit.display_name
    assert ("global variance" in auto.display_name) == (expected == "global")


def test_auto_is_the_default_and_unknown_variances_are_refused_in_one_line():
    assert LiRAAttack().variance == "auto" and build_attack("lira").variance == "auto"
    assert build_attack({"name": "lira", "variance": "global"}).display_name == "lira[online,global variance,logit_confidence]"
    assert build_attack({"name": "lira", "variance": "per_example"}).display_name == "lira[online,logit_confidence]"
    attack = LiRAAttack(variance="pooled")
    reference = ReferenceSignals({"logit_confidence": np.zeros((2, 4))}, np.array([[True, True, False, False]] * 2))
    with pytest.raises(ConfigError, match="variance must be one of auto, per_example, global"):
        attack.score({"logit_confidence": np.zeros(2)}, np.zeros(2), reference)
