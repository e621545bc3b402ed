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
