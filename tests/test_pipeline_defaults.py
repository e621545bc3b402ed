"""Default attacks follow what the reference plan can serve (issue 14: `--reference-models 1` used to abort the audit)."""

from __future__ import annotations

import pytest

from privaudit.pipeline import default_attacks
from privaudit.pipeline.attack_choice import MIN_MODELS_TO_TUNE_RMIA


def _names(attacks) -> list[str]:
    return [a.display_name for a in attacks]


@pytest.mark.parametrize("n_models", [1, MIN_MODELS_TO_TUNE_RMIA - 1])
def test_offline_rmia_is_left_out_when_its_offline_a_cannot_be_tuned(n_models):
    names = _names(default_attacks("probabilities", True, "offline", n_reference_models=n_models))
    assert not any(n.startswith("rmia") for n in names)
    assert any(n.startswith("lira") for n in names) and any(n.startswith("reference_calibrated_loss") for n in names)


@pytest.mark.parametrize("mode, n_models", [("offline", MIN_MODELS_TO_TUNE_RMIA), ("offline", None), ("online", 1)])
def test_rmia_stays_when_it_can_run(mode, n_models):
    names = _names(default_attacks("probabilities", True, mode, n_reference_models=n_models))
    assert sum(n.startswith("rmia") for n in names) == 1


def test_one_offline_reference_model_audits_without_rmia():
    """End to end: one offline reference model, default attacks: the audit runs and says why RMIA is missing."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from privaudit import audit
    from privaudit.data import AuditData, RecordSet
    from privaudit.reference.plan import ReferencePlan
    from privaudit.reference.recipes import SklearnRecipe
    from privaudit.targets import SklearnTarget

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    y = (x[:, 0] + rng.normal(size=600) > 0).astype(int)
    records = RecordSet(ids=np.array([f"r{i}" for i in range(600)]), features=pd.DataFrame(x, columns=['a', 'b', 'c']), labels=y, classes=(0, 1))
    data = AuditData(records, members=np.arange(100), nonmembers=np.arange(100, 200), population=np.arange(200, 600))
    model = LogisticRegression().fit(pd.DataFrame(x[:100], columns=['a', 'b', 'c']), y[:100])
    plan = ReferencePlan(SklearnRecipe(LogisticRegression()), n_models=1, mode="offline", train_size=100)
    said: list[str] = []
    result = audit(data, [SklearnTarget(model, name="lr")], reference=plan, n_bootstrap=50, progress=said.append)
    assert not any(r.attack.startswith("rmia") for r in result.results)
    assert any("offline RMIA left out" in line for line in said)
