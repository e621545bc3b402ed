"""`check` without an attack runs the strongest one the inputs support, and says which and why (issue 14)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from privaudit.data import AuditData, audit_data_from_frame
from privaudit.datasets import make_synthetic_tabular
from privaudit.pipeline import strongest_check_attack
from privaudit.record_check import check_records

FEATURES = ["x0", "x1", "x2", "x3", "x4", "colour"]


def _forest(frame, n_estimators=30):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    return make_pipeline(
        ColumnTransformer([("colour", OneHotEncoder(), ["colour"])], remainder="passthrough"),
        RandomForestClassifier(n_estimators=n_estimators, random_state=0, n_jobs=1),
    ).fit(frame[FEATURES], frame.label)


@pytest.fixture(scope="module")
def setup():
    """300 members (a forest's training set), 500 non-members, 400 population records; 10 records to check."""
    from privaudit.targets import SklearnTarget

    frame = make_synthetic_tabular(1200, label_noise=0.3, seed=11)
    frame["split"] = ["member"] * 300 + ["nonmember"] * 500 + ["population"] * 400
    data = audit_data_from_frame(frame, label="label", id_column="record_id", features=FEATURES, membership_column="split")
    target = SklearnTarget(_forest(frame.iloc[:300]), name="forest")
    return target, data, data.records.subset(np.r_[data.members[:5], data.nonmembers[:5]])


def _without_population(data: AuditData) -> AuditData:
    return AuditData(data.records, data.members, data.nonmembers, np.empty(0, dtype=np.intp), source=data.source)


def test_the_rule_in_order():
    assert strongest_check_attack("labels", has_population=True, has_reference=True)[0] == "correctness"
    assert strongest_check_attack("probabilities", has_population=True, has_reference=True)[0] == {"name": "rmia", "mode": "offline"}
    assert strongest_check_attack("probabilities", has_population=True, has_reference=False)[0] == {"name": "classwise_threshold", "signal": "loss"}
    assert strongest_check_attack("logits", has_population=False, has_reference=True)[0] == "loss"  # RMIA needs population records
    assert strongest_check_attack("logits", has_population=False, has_reference=False)[0] == "loss"
    for kind, population, reference in [("labels", False, False), ("probabilities", True, True), ("probabilities", True, False), ("logits", False, False)]:
        reason = strongest_check_attack(kind, has_population=population, has_reference=reference)[1]
        assert isinstance(reason, str) and len(reason) > 30


def test_population_without_reference_gives_classwise_loss_and_says_why(setup):
    target, data, records = setup
    result = check_records(target, data, records)
    assert result.attack == "classwise_threshold[loss]"
    assert result.notes[0].startswith("attack classwise_threshold[loss] was chosen by default: ") and "population records" in result.notes[0]
    # the same scores as naming the attack; naming it adds no note about a choice
    named = check_records(target, data, records, attack={"name": "classwise_threshold", "signal": "loss"})
    assert [r.p_value for r in named.records] == [r.p_value for r in result.records]
    assert not any("chosen by default" in n for n in named.notes)


def test_no_population_gives_loss(setup):
    target, data, records = setup
    result = check_records(target, _without_population(data), records)
    assert result.attack == "threshold[loss]" and "no population records" in result.notes[0]


def test_label_only_target_gives_correctness(setup):
    from privaudit.targets.output_defence import defend

    target, data, records = setup
    result = check_records(defend(target, {"labels_only": True}), data, records)
    assert result.attack == "threshold[correctness]" and "labels only" in result.notes[0]


def test_reference_plan_and_population_give_offline_rmia(setup, tmp_path):
    from privaudit.reference.plan import ReferencePlan
    from privaudit.reference.recipes import SklearnRecipe

    target, data, records = setup
    plan = ReferencePlan(SklearnRecipe(_forest(make_synthetic_tabular(50, seed=1), n_estimators=10), trusted_types=["sklearn.tree._tree.Tree"]), n_models=4, mode="offline",
                         train_size=200, store=tmp_path / "store", backend="sequential")
    result = check_records(target, data, records, reference=plan)
    assert result.attack.startswith("rmia[offline") and "reference block" in result.notes[0]
    assert all(r.likelihood_ratio is not None and r.likelihood_ratio > 0 for r in result.records)
    # without population records the reference block alone does not make RMIA the default (it needs population records z)
    assert check_records(target, _without_population(data), records, reference=plan).attack == "threshold[loss]"


def test_cli_names_the_chosen_attack(tmp_path, capsys):
    import skops.io as sio
    import yaml

    from privaudit.cli import main

    frame = make_synthetic_tabular(900, label_noise=0.3, seed=3)
    frame["split"] = ["member"] * 300 + ["nonmember"] * 400 + ["population"] * 200
    frame.to_csv(tmp_path / "records.csv", index=False)
    sio.dump(_forest(frame.iloc[:300]), tmp_path / "forest.skops")
    config = {
        "data": {"path": "records.csv", "label": "label", "id_column": "record_id", "features": FEATURES, "membership": {"column": "split"}},
        "targets": [{"name": "forest", "type": "sklearn", "path": "forest.skops", "trusted_types": sorted(sio.get_untrusted_types(file=tmp_path / "forest.skops"))}],
    }
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    frame.iloc[[0, 401]].drop(columns="split").to_csv(tmp_path / "people.csv", index=False)
    for extra in ([], ["--json"]):
        with pytest.raises(SystemExit) as exited:
            main(["check", str(tmp_path / "audit.yaml"), "--records", str(tmp_path / "people.csv"), "--quiet", *extra])
        captured = capsys.readouterr()
        assert exited.value.code == 0, captured.err
        if extra:
            document = json.loads(captured.out)
            assert document["attack"] == "classwise_threshold[loss]" and "chosen by default" in document["notes"][0]
        else:
            text = " ".join(captured.out.split())
            assert "classwise_threshold[loss] was chosen by default" in text and "population records" in text
