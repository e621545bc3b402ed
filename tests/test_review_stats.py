"""Review of issue 16's statistics: names that reports show build what was computed; QMIA's conformal rank."""

from __future__ import annotations

import numpy as np
import pytest

from privaudit.attacks import build_attack
from privaudit.attacks.lira import PER_EXAMPLE_MIN_MODELS, LiRAAttack
from privaudit.attacks.reference import ReferenceSignals


@pytest.mark.parametrize("mode", ["online", "offline"])
def test_the_name_a_default_lira_reports_builds_the_attack_it_computed(mode):
    """Below PER_EXAMPLE_MIN_MODELS models per side, LiRA's default reports ``lira[<mode>,global variance,…]``;
    copying that name into a config (or ``check --attack``) must build LiRA with the global variance, same scores."""
    rng = np.random.default_rng(3)
    n, k = 30, PER_EXAMPLE_MIN_MODELS  # online: k/2 per side; offline: k − 2 OUT models — both below the threshold
    in_mask = np.zeros((n, k), bool)
    in_mask[:, : k // 2 if mode == "online" else 2] = True
    reference = ReferenceSignals({"logit_confidence": rng.normal(size=(n, k)) * rng.uniform(0.2, 3, (n, 1)) + in_mask}, in_mask)
    target = {"logit_confidence": rng.normal(size=n)}
    default = LiRAAttack(mode=mode)
    scores = default.score(target, np.zeros(n), reference)
    assert default.variance_used_ == "global"
    rebuilt = build_attack(default.display_name)
    assert rebuilt.variance == "global" and rebuilt.display_name == default.display_name
    np.testing.assert_array_equal(rebuilt.score(target, np.zeros(n), reference), scores)


def test_qmia_predict_uses_the_held_out_conformal_threshold():
    """``predict`` at the fitted α decides exactly as ``score > 0`` (the split-conformal rule); at other FPRs its
    threshold comes from the held-out 20 % of the population, never from margins the regressor was fitted on,
    and the fraction of fresh non-members it flags stays within Monte-Carlo error of the FPR."""
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from privaudit.attacks import QuantileRegressionAttack

    def draw(n, rng):
        x = pd.DataFrame(rng.uniform(-1, 1, (n, 6)), columns=[f"x{i}" for i in range(6)])
        return {"confidence": x["x0"].to_numpy() + rng.standard_t(4, n)}, np.zeros(n, int), x

    rng = np.random.default_rng(0)
    population, fresh = draw(2000, rng), draw(100_000, rng)
    with threadpool_limits(limits=1):
        attack = QuantileRegressionAttack(signal="confidence", fpr=0.05).fit(*population[:2], features=population[2])
        scores = attack.score(fresh[0], fresh[1], features=fresh[2])
        np.testing.assert_array_equal(attack.predict(fresh[0], fresh[1], fpr=0.05, features=fresh[2]), scores > 0)
        flagged = attack.predict(fresh[0], fresh[1], fpr=0.1, features=fresh[2]).mean()
    m = attack.calibration_scores_.size
    assert m == 400  # the held-out fifth
    # realised FPR of one split-conformal threshold: ≈ Beta around 0.1 with sd √(0.1·0.9/m)
    assert abs(flagged - 0.1) < 3 * np.sqrt(0.1 * 0.9 / m) + 3 * np.sqrt(0.1 * 0.9 / fresh[1].size)
