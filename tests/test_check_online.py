"""Online record checks (`check --mode online`): the design, the calibration of its p-values, store reuse and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from privaudit.data import audit_data_from_frame
from privaudit.datasets import make_synthetic_tabular
from privaudit.exceptions import CapabilityError, ConfigError, DataError
from privaudit.record_check import check_records, records_from_frame
from privaudit.reference.check_design import check_online_design

FEATURES = ["x0", "x1", "x2", "x3", "x4", "colour"]
ALPHA = 0.05
N_MEMBERS, N_NONMEMBERS, N_POPULATION, N_HELD_OUT = 3000, 4000, 1000, 800
N_MODELS = 4


def _forest(n_estimators: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    return make_pipeline(
        ColumnTransformer([("colour", OneHotEncoder(), ["colour"])], remainder="passthrough"),
        RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=1, random_state=0, n_jobs=1),
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """An overfit forest on 3,000 members; 4,000 non-members, 1,000 population; 800 held-out non-members (never in the data)."""
    from privaudit.reference.plan import ReferencePlan
    from privaudit.reference.recipes import SklearnRecipe
    from privaudit.targets import SklearnTarget

    n_audit = N_MEMBERS + N_NONMEMBERS + N_POPULATION
    frame = make_synthetic_tabular(n_audit + N_HELD_OUT, label_noise=0.3, seed=7)
    audit = frame.iloc[:n_audit].copy()
    audit["split"] = ["member"] * N_MEMBERS + ["nonmember"] * N_NONMEMBERS + ["population"] * N_POPULATION
    data = audit_data_from_frame(audit, label="label", id_column="record_id", features=FEATURES, membership_column="split")
    members = audit.iloc[:N_MEMBERS]
    target = SklearnTarget(_forest(40).fit(members[FEATURES], members.label), name="forest")
    held_out = records_from_frame(frame.iloc[n_audit:], data, label="label", id_column="record_id")
    plan = ReferencePlan(SklearnRecipe(_forest(40), trusted_types=["sklearn.tree._tree.Tree"]), n_models=N_MODELS, mode="offline",
                         store=tmp_path_factory.mktemp("online-store"), backend="sequential")
    return target, data, held_out, plan


@pytest.fixture(scope="module")
def online_result(setup):
    target, data, held_out, plan = setup
    return check_records(target, data, held_out, null="real", alpha=ALPHA, reference=plan, mode="online")


def _assert_calibrated(result, n):
    p = np.array([r.p_value for r in result.records])
    ks = stats.kstest(p, "uniform")
    fpr = float(np.mean(p <= ALPHA))
    assert ks.pvalue > 0.01, f"online p-values of true non-members are not uniform (KS p = {ks.pvalue:.3g})"
    assert fpr <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / n), f"false-positive rate {fpr:.3f} at α = {ALPHA}"


# ---------------------------------------------------------------- the design


def test_design_puts_every_checked_and_null_record_in_half_the_models(setup):
    _, data, held_out, _ = setup
    checked = held_out.subset(np.arange(50))
    design = check_online_design(checked, data, 8, seed=3)
    sizes = design.sizes()
    assert sizes["pool"] <= 2 * N_MEMBERS and len(design.pool) == sizes["pool"]
    assert sizes == {"pool": 6000, "checked": 50, "null": 2975, "power": 2975, "population": 0}  # B = 5950: null B/2, power the rest
    assert np.all(design.keep.sum(axis=1) == 4)  # every pool record IN exactly half of 8 models
    assert design.model_sizes.max() <= N_MEMBERS
    ids = design.pool.ids.astype(str)
    assert len(set(ids)) == len(ids)
    assert ids[design.checked].tolist() == checked.ids.astype(str).tolist()
    assert set(ids[design.null]) <= set(data.records.ids[data.nonmembers].astype(str))
    assert set(ids[design.power]) <= set(data.records.ids[data.members].astype(str))
    # deterministic under the seed, different under another
    again = check_online_design(checked, data, 8, seed=3)
    assert np.array_equal(again.keep, design.keep) and np.array_equal(again.pool.ids, design.pool.ids)
    other = check_online_design(checked, data, 8, seed=4)
    assert not np.array_equal(other.pool.ids[other.null], design.pool.ids[design.null])


def test_design_dedupes_checked_records_and_keeps_them_out_of_null_and_power(setup):
    _, data, _, _ = setup
    mine = np.r_[data.nonmembers[:3], data.members[:2], data.nonmembers[:1]]  # a repeated id, and records of the data itself
    checked = data.records.subset(mine)
    design = check_online_design(checked, data, 4, seed=0, n_null=500, n_power=100)
    ids = design.pool.ids.astype(str)
    assert design.sizes()["checked"] == 5 and design.checked.tolist()[-1] == design.checked.tolist()[0]
    assert not set(ids[design.checked]) & set(ids[np.r_[design.null, design.power, design.population]])
    assert design.sizes()["null"] == 500 and design.sizes()["power"] == 100
    assert design.sizes()["population"] == min(N_POPULATION, 2 * N_MEMBERS - 5 - 600)



def test_design_refuses_two_different_records_under_one_id(setup):
    """Regression: a repeated id entered the pool once, so a different record under it was scored as IN models that never saw it."""
    from privaudit.data import RecordSet

    _, data, _, _ = setup
    checked = data.records.subset(data.nonmembers[:3])
    clash = RecordSet(np.array(["a", "b", "a"]), checked.features, checked.labels, checked.classes)
    with pytest.raises(DataError, match="--records: id 'a' names 2 different records"):
        check_online_design(clash, data, 4, seed=0, n_null=500, n_power=100)
    rows = np.array([0, 1, 2, 1, 0])
    twice = RecordSet(np.array(list("abcde")), checked.subset(rows).features, checked.labels[rows], checked.classes)
    with pytest.raises(DataError, match="--records: the same record is given under the ids 'a', 'e'"):
        check_online_design(twice, data, 4, seed=0, n_null=500, n_power=100)


def test_design_refuses_when_no_member_is_left_for_the_power(setup):
    """Regression: checking every member online left no power sample and check_records died with ZeroDivisionError."""
    _, data, _, _ = setup
    with pytest.raises(DataError, match=r"none is left \(every member of the data is a checked record\); check fewer records"):
        check_online_design(data.records.subset(data.members), data, 4, seed=0)


def test_person_level_design_without_the_datas_person_column_names_the_fix(setup):
    """Regression: the refusal read 'needs the data's person ids ... (11 given for 11)', naming no option or fix."""
    _, data, _, _ = setup
    checked = data.records.subset(data.nonmembers[:3])
    with pytest.raises(ConfigError, match="--person-column with --mode online: the audit data .* set data.person_column"):
        check_online_design(checked, data, 4, seed=0, groups=np.array(["a", "a", "b"]))



def test_design_keeps_a_checked_record_under_another_id_out_of_null_and_power(setup):
    """Regression: records checked without the data's ids (a file with no id column) were matched by id only, so their own copies
    could sit in the null or power sample, IN models where the checked record is OUT."""
    from privaudit.data import RecordSet

    _, data, _, _ = setup
    rows = np.r_[data.nonmembers[:20], data.members[:20]]
    mine = data.records.subset(rows)
    renamed = RecordSet(np.array([f"record-{i + 1}" for i in range(rows.size)]), mine.features, mine.labels, mine.classes)
    design = check_online_design(renamed, data, 4, seed=0, n_null=3_000, n_power=2_000)
    sampled = set(design.pool.ids[np.r_[design.null, design.power, design.population]].astype(str))
    assert not sampled & set(data.records.ids[rows].astype(str))

def test_person_level_design_keeps_each_person_in_or_out_together(setup):
    _, data, _, _ = setup
    persons_data = _with_persons(data)
    people = persons_data.person_ids
    checked = data.records.subset(data.nonmembers[:6])  # two whole non-member persons
    design = check_online_design(checked, persons_data, 6, seed=1, groups=people[data.nonmembers[:6]])
    person_of = dict(zip(data.records.ids.astype(str), people))
    labels = np.array([person_of[str(i)] for i in design.pool.ids])
    for g in np.unique(labels):
        rows = design.keep[labels == g]
        assert (rows == rows[0]).all() and rows[0].sum() == 3  # IN or OUT together, IN half of 6 models
    assert not set(labels[design.checked]) & set(labels[np.r_[design.null, design.power, design.population]])
    for part in (design.null, design.power):  # drawn as whole persons
        counts = np.unique(labels[part], return_counts=True)[1]
        assert np.all(counts == np.array([np.sum(people == g) for g in np.unique(labels[part])]))
    assert np.array_equal(design.keep, check_online_design(checked, persons_data, 6, seed=1, groups=people[data.nonmembers[:6]]).keep)
    with pytest.raises(ConfigError, match="set data.person_column"):
        check_online_design(checked, data, 6, seed=1, groups=people[:6])


def _with_persons(data, size: int = 3):
    """The data with a person id per record: ``size`` records per person, within one role."""
    from dataclasses import replace

    people = np.empty(len(data.records), dtype=object)
    for role in ("members", "nonmembers", "population"):
        positions = getattr(data, role)
        people[positions] = [f"{role}-{j // size}" for j in range(positions.size)]
    return replace(data, person_ids=people.astype(str))


def test_online_person_check_uses_a_person_level_design(setup):
    """check --mode online --person-column: whole persons IN or OUT, null and power persons drawn whole."""
    target, data, _, plan = setup
    persons_data = _with_persons(data)
    rows = np.r_[data.members[:6], data.nonmembers[:6]]  # two member persons, two non-member persons
    result = check_records(target, persons_data, data.records.subset(rows), reference=plan, mode="online",
                           person_ids=persons_data.person_ids[rows], attack={"name": "lira", "variance": "global"})
    assert "whole persons IN or OUT" in result.reference["design"]
    assert [p.person for p in result.persons] == ["members-0", "members-1", "nonmembers-0", "nonmembers-1"]
    assert all(p.n_records == 3 and p.n_null_persons >= 100 and 0 < p.p_value <= 1 for p in result.persons)
    assert result.persons[0].power is not None and result.persons[0].power > ALPHA  # three records of an overfit forest's member


def test_online_person_p_values_are_uniform_for_held_out_nonmember_persons(setup):
    """800 held-out non-member records as 266 persons of 3 (+ one of 2), checked online at the person level."""
    target, data, held_out, plan = setup
    persons_data = _with_persons(data)
    people = np.array([f"held-{j // 3}" for j in range(len(held_out))])
    result = check_records(target, persons_data, held_out, reference=plan, mode="online", person_ids=people)
    p = np.array([v.p_value for v in result.persons if v.n_records == 3])
    assert p.size == 266 and stats.kstest(p, "uniform").pvalue > 0.01
    assert np.mean(p <= ALPHA) <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / p.size)
    assert not any(v.significant for v in result.persons)  # BH over non-member persons


def test_design_refusals(setup):
    _, data, held_out, _ = setup
    with pytest.raises(ConfigError, match="at least 2 reference models"):
        check_online_design(held_out, data, 1, seed=0)
    with pytest.raises(DataError, match="check fewer records at a time"):
        check_online_design(held_out, data, 4, seed=0, train_size=400)


# ---------------------------------------------------------------- calibration and power


def test_online_p_values_are_uniform_for_held_out_nonmembers(online_result):
    result = online_result
    assert result.attack == "rmia[online,confidence]"  # 4 models: RMIA, said in the notes
    assert "chosen by default" in result.notes[0] and "RMIA" in result.notes[0]
    assert result.n_null == {"real": result.reference["null"]} and result.reference["null"] >= 800
    assert len(result.records) == N_HELD_OUT
    _assert_calibrated(result, N_HELD_OUT)
    assert sum(r.significant for r in result.records) <= 2  # BH over 800 true non-members
    assert result.power_ci[0] > ALPHA  # the overfit forest's members are found
    info = result.reference
    assert info["mode"] == "online" and info["n_models"] == N_MODELS and info["pool"] <= 2 * N_MEMBERS
    assert info["model_sizes"][1] <= N_MEMBERS and info["trained"] + info["reused"] == N_MODELS
    assert result.n_members == info["power"]


def test_online_lira_on_the_same_models_is_calibrated_and_trains_nothing(setup, online_result):
    target, data, held_out, plan = setup
    result = check_records(target, data, held_out, attack={"name": "lira", "variance": "global"}, reference=plan, mode="online", alpha=ALPHA)
    assert result.attack.startswith("lira[online")
    assert result.reference["trained"] == 0 and result.reference["reused"] == N_MODELS  # same design, same store keys
    _assert_calibrated(result, N_HELD_OUT)
    assert result.power_ci[0] > ALPHA
    ratios = np.array([r.likelihood_ratio for r in result.records])
    assert np.all(np.isfinite(ratios)) and np.all(ratios > 0)


def test_online_rmia_beats_offline_rmia_on_an_overfit_target(setup, online_result):
    """The reason to train online: each record's own IN models. Same target and reference recipe, offline vs online."""
    target, data, held_out, plan = setup
    offline = check_records(target, data, held_out.subset(np.arange(3)), attack="rmia", reference=plan, alpha=ALPHA)
    assert offline.reference is None and offline.attack.startswith("rmia[offline")
    assert online_result.power > offline.power


def test_rerun_trains_nothing_and_gives_the_same_p_values(setup):
    target, data, held_out, plan = setup
    few = held_out.subset(np.arange(5))
    first = check_records(target, data, few, reference=plan, mode="online")
    again = check_records(target, data, few, reference=plan, mode="online")
    assert first.reference["trained"] == N_MODELS and again.reference["trained"] == 0 and again.reference["reused"] == N_MODELS
    assert [r.p_value for r in again.records] == [r.p_value for r in first.records]


def test_online_refusals_are_one_line(setup):
    target, data, held_out, plan = setup
    few = held_out.subset(np.arange(3))
    cases = [
        (dict(reference=None), CapabilityError, "add a 'reference' block"),
        (dict(reference=plan, null="fabricated"), ConfigError, "use --null real"),
        (dict(reference=plan, null="both"), ConfigError, "use --null real"),
        (dict(reference=plan, attack="loss"), ConfigError, "drop --mode online"),
        (dict(reference=plan, attack={"name": "lira", "mode": "offline"}), ConfigError, "check with --mode offline"),
    ]
    for kwargs, error, text in cases:
        with pytest.raises(error) as caught:
            check_records(target, data, few, mode="online", **kwargs)
        assert text in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="modes are offline and online"):
        check_records(target, data, few, mode="sideways", reference=plan)


# ---------------------------------------------------------------- the command line


@pytest.fixture(scope="module")
def cli_config(tmp_path_factory):
    import skops.io as sio
    import yaml

    folder = tmp_path_factory.mktemp("online-cli")
    frame = make_synthetic_tabular(1100, label_noise=0.3, seed=3)
    frame["split"] = ["member"] * 300 + ["nonmember"] * 600 + ["population"] * 200
    frame.to_csv(folder / "records.csv", index=False)
    sio.dump(_forest(20).fit(frame.iloc[:300][FEATURES], frame.iloc[:300].label), folder / "forest.skops")
    trusted = sorted(sio.get_untrusted_types(file=folder / "forest.skops"))
    target = {"name": "forest", "type": "sklearn", "path": "forest.skops", "trusted_types": trusted}
    data = {"path": "records.csv", "label": "label", "id_column": "record_id", "features": FEATURES, "membership": {"column": "split"}}
    (folder / "bare.yaml").write_text(yaml.safe_dump({"data": data, "targets": [target]}))
    (folder / "online.yaml").write_text(yaml.safe_dump({"data": data, "targets": [{**target, "reference": {"models": 4}}],
                                                        "compute": {"backend": "sequential", "store": "store"}}))
    frame.iloc[[0, 1, 301, 302]].drop(columns="split").to_csv(folder / "people.csv", index=False)
    return folder


def _run(args, capsys):
    from privaudit.cli import main

    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def test_cli_online_check_reports_mode_pool_and_models(cli_config, capsys):
    args = ["check", str(cli_config / "online.yaml"), "--records", str(cli_config / "people.csv"), "--mode", "online", "--quiet"]
    code, out, err = _run([*args, "--json"], capsys)
    assert code == 0, err
    document = json.loads(out)
    ref = document["reference"]
    assert ref["mode"] == "online" and ref["n_models"] == 4 and ref["checked"] == 4 and ref["pool"] <= 600
    assert ref["trained"] == 4 and ref["null"] == document["n_null"]["real"] >= 20
    assert document["attack"] == "rmia[online,confidence]" and len(document["records"]) == 4
    code, out, err = _run(args, capsys)  # the table: models reused, pool sizes
    text = " ".join(out.split())
    assert code == 0 and "reference models: online, 4 models (0 trained, 4 reused from the store)" in text and "null" in text


@pytest.mark.parametrize("config, extra, expected", [
    ("bare.yaml", [], "add a 'reference' block"),
    ("online.yaml", ["--null", "fabricated"], "use --null real"),
    ("online.yaml", ["--attack", "loss"], "drop --mode online"),
])
def test_cli_online_errors_are_one_line(cli_config, capsys, config, extra, expected):
    code, _, err = _run(["check", str(cli_config / config), "--records", str(cli_config / "people.csv"), "--mode", "online", "--quiet", *extra], capsys)
    errors = [line for line in err.splitlines() if not line.startswith("· ")]
    assert code != 0 and len(errors) == 1 and errors[0].startswith("privaudit: error: ") and expected in errors[0], err
    assert "Traceback" not in err


def test_the_default_attack_note_names_what_ran_after_lira_auto_variance_resolves(setup, online_result, monkeypatch):
    """With LiRA as the online default (threshold lowered to this fixture's 4 models), ``variance: auto`` resolves to the
    global variance while scoring; the "chosen by default" note is worded after that, so it names the attack that ran."""
    import privaudit.record_online as record_online

    target, data, held_out, plan = setup
    monkeypatch.setattr(record_online, "LIRA_ONLINE_MIN_MODELS", N_MODELS)
    result = check_records(target, data, held_out, reference=plan, mode="online", alpha=ALPHA)
    assert "global variance" in result.attack and result.reference["trained"] == 0
    assert result.notes[0].startswith(f"attack {result.attack} was chosen by default")
