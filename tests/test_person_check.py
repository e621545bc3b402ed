"""Person checks (privaudit.person_check, ``check --person-column``): calibration on correlated records, power, wording, refusals.

The data gives each person 1–5 records that are noisy copies of one profile
(the same person over several years: strongly correlated records), membership
decided per person, and an overfit forest trained on the member persons'
records. Held-out non-member persons (never in the null) must be flagged at
most α + 3σ of the time at each size 1, 3 and 5; member persons must be found
more often with more records.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from privaudit.data import audit_data_from_frame
from privaudit.datasets import make_synthetic_tabular
from privaudit.exceptions import ConfigError, DataError
from privaudit.person_check import person_verdict
from privaudit.record_check import check_records, records_from_frame

FEATURES = ["x0", "x1", "x2", "x3", "x4", "colour"]
NUMERIC = FEATURES[:5]
ALPHA = 0.05


def person_years(groups, seed=1):
    """Persons of each group ``(prefix, n_persons, sizes)``, each a profile repeated over its records with small noise.

    One draw of :func:`make_synthetic_tabular` (one labelling rule) for all groups, so every group is exchangeable.
    """
    rng = np.random.default_rng(seed)
    base = make_synthetic_tabular(sum(n for _, n, _ in groups), label_noise=0.3, seed=seed)
    size = np.concatenate([rng.choice(sizes, n) for _, n, sizes in groups])
    frame = base.loc[base.index.repeat(size)].reset_index(drop=True)
    frame[NUMERIC] = frame[NUMERIC] + rng.normal(scale=0.15, size=(len(frame), len(NUMERIC)))
    names = [f"{prefix}{i}" for prefix, n, _ in groups for i in range(n)]
    frame["person"] = np.repeat(names, size)
    frame["group"] = np.repeat([prefix for prefix, n, _ in groups for _ in range(n)], size)
    frame["record_id"] = [f"r{i}" for i in range(len(frame))]
    flip = rng.random(len(frame)) < 0.1  # a year in which the label differs
    frame.loc[flip, "label"] = 1 - frame.loc[flip, "label"]
    return frame


@pytest.fixture(scope="module")
def setup():
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from privaudit.targets import SklearnTarget

    everyone = person_years([("m", 400, [1, 2, 3, 4, 5]), ("n", 10_000, [1, 2, 3, 4, 5]), ("q", 300, [1, 3, 5]),
                             ("h1_", 900, [1]), ("h3_", 900, [3]), ("h5_", 900, [5])])
    split = everyone.group.map({"m": "member", "n": "nonmember", "q": "population"})
    frame = everyone[split.notna()].assign(split=split[split.notna()]).drop(columns="group").reset_index(drop=True)
    held_out = everyone[split.isna()].drop(columns="group").reset_index(drop=True)
    data = audit_data_from_frame(frame, label="label", id_column="record_id", features=FEATURES, membership_column="split",
                                 person_column="person")
    members = frame[frame.split == "member"]
    # continuous outputs (a forest's vote fractions tie a lot, which makes p-values conservative, not uniform)
    model = make_pipeline(
        ColumnTransformer([("colour", OneHotEncoder(), ["colour"])], remainder="passthrough"),
        HistGradientBoostingClassifier(max_iter=300, max_leaf_nodes=63, min_samples_leaf=2, early_stopping=False, random_state=0),
    ).fit(members[FEATURES], members.label)
    return SklearnTarget(model, name="boosted"), data, frame, held_out


def test_held_out_non_member_persons_are_calibrated_and_members_are_found(setup):
    target, data, frame, held_out = setup
    records = records_from_frame(held_out, data, label="label", id_column="record_id")
    result = check_records(target, data, records, attack="loss", alpha=ALPHA, person_ids=held_out.person.to_numpy())
    persons = result.persons
    assert len(persons) == 2700 and len(result.records) == len(held_out)  # the record-level output is kept
    for k in (1, 3, 5):
        sized = [v for v in persons if v.n_records == k]
        p = np.array([v.p_value for v in sized])
        assert len(sized) == 900 and all("exactly" in v.null_how for v in sized)
        assert stats.kstest(p, "uniform").pvalue > 0.01
        assert (p <= ALPHA).mean() <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / 900)
        assert not any(v.verdict.startswith(("Strong", "Moderate")) and not v.significant for v in sized)
    # BH across 2,700 non-member persons: (almost) nobody is called a member
    assert sum(v.significant for v in persons) <= 3
    power = {v.n_records: (v.power, v.power_ci, v.n_member_persons) for v in persons}
    assert power[1][0] < power[5][0] and power[5][1][0] > ALPHA and power[5][2] >= 20
    assert any("normal scores" in n for n in result.notes)


def test_member_persons_checked_are_found_and_non_member_persons_left_out_of_their_null(setup):
    target, data, frame, _ = setup
    chosen = frame[frame.person.isin(["m0", "m1", "m2", "n0", "n1"])]
    records = records_from_frame(chosen, data, label="label", id_column="record_id")
    result = check_records(target, data, records, attack="loss", alpha=ALPHA, person_ids=chosen.person.to_numpy())
    assert [v.person for v in result.persons] == ["m0", "m1", "m2", "n0", "n1"]
    assert [v.n_records for v in result.persons] == chosen.groupby("person", sort=False).size().tolist()
    assert any("2 checked person(s) are non-member persons" in n for n in result.notes)
    q = np.array([v.q_value for v in result.persons])
    np.testing.assert_array_less(np.array([v.p_value for v in result.persons]) - 1e-15, q)


def test_person_verdict_wording():
    strong = person_verdict(0.001, 0.004, ALPHA, 0.6, 999, 5, multiple=3)
    assert strong.startswith("Strong evidence this person's data was used in training (p ≤ 0.001 against 999 non-member persons with 5 records")
    assert "exchangeable with the null persons" in strong and "q = 0.004" in strong
    none = person_verdict(0.4, None, ALPHA, 0.62, 500, 3)
    assert none.startswith("No evidence this person's data was used") and "about 62 % of training persons with 3 records" in none
    assert "No verdict possible: only 10 null person(s) with 1 record" in person_verdict(1 / 11, None, ALPHA, 0.5, 10, 1)
    assert "unknown" in person_verdict(0.4, None, ALPHA, None, 500, 7)


def test_refusals_are_one_clear_line(setup):
    target, data, frame, held_out = setup
    records = records_from_frame(held_out.iloc[:3], data, label="label", id_column="record_id")
    ids = held_out.person.to_numpy()[:3]
    with pytest.raises(ConfigError, match="use --null real"):
        check_records(target, data, records, attack="loss", null="fabricated", person_ids=ids, n_fabricated=200)
    plain = audit_data_from_frame(frame, label="label", id_column="record_id", features=FEATURES, membership_column="split")
    with pytest.raises(ConfigError, match="set data.person_column"):
        check_records(target, plain, records, attack="loss", person_ids=ids)
    mixed = frame.copy()
    mixed.loc[mixed.person == "m0", "split"] = ["member"] + ["nonmember"] * int((mixed.person == "m0").sum() - 1)
    if (mixed.person == "m0").sum() > 1:
        with pytest.raises(DataError, match="person 'm0' has records with different roles"):
            audit_data_from_frame(mixed, label="label", id_column="record_id", features=FEATURES, membership_column="split", person_column="person")
    with pytest.raises(DataError, match="person column 'who' not found"):
        audit_data_from_frame(frame, label="label", id_column="record_id", features=FEATURES, membership_column="split", person_column="who")


@pytest.fixture(scope="module")
def cli_folder(tmp_path_factory, setup):
    import skops.io as sio
    import yaml

    target, data, frame, held_out = setup
    folder = tmp_path_factory.mktemp("person-check")
    frame.to_csv(folder / "records.csv", index=False)
    sio.dump(target.estimator, folder / "forest.skops")
    config = {
        "data": {"path": "records.csv", "label": "label", "id_column": "record_id", "person_column": "person", "features": FEATURES,
                 "membership": {"column": "split"}},
        "targets": [{"name": "forest", "type": "sklearn", "path": "forest.skops",
                     "trusted_types": sorted(sio.get_untrusted_types(file=folder / "forest.skops"))}],
    }
    (folder / "audit.yaml").write_text(yaml.safe_dump(config))
    frame[frame.person.isin(["m3", "m4", "n5"])].drop(columns="split").to_csv(folder / "people.csv", index=False)
    return folder


def _run(capsys, *args):
    from privaudit.cli import main

    with pytest.raises(SystemExit) as exited:
        main(list(args))
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def test_check_command_with_person_column(cli_folder, capsys, monkeypatch):
    monkeypatch.chdir(cli_folder)
    code, out, err = _run(capsys, "check", "audit.yaml", "--records", "people.csv", "--person-column", "person", "--attack", "loss", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert [p["person"] for p in result["persons"]] == ["m3", "m4", "n5"]
    keys = {"person", "n_records", "statistic", "p_value", "q_value", "verdict", "power", "n_null_persons", "null_how"}
    assert keys <= set(result["persons"][0]) and len(result["records"]) > 3
    assert set(result["persons"][0]["power"]) == {"value", "ci95", "n_member_persons", "meaning", "bh_floor"}
    code, out, err = _run(capsys, "check", "audit.yaml", "--records", "people.csv", "--person-column", "person", "--attack", "loss")
    assert code == 0 and "persons" in out and "records" in out
    code, out, err = _run(capsys, "check", "audit.yaml", "--records", "people.csv", "--person-column", "who")
    assert code == 2 and err.count("\n") == 1 and "people.csv: no person column 'who'" in err
    code, out, err = _run(capsys, "check", "audit.yaml", "--record", "x0=1", "--person-column", "person")
    assert code == 2 and err.count("\n") == 1 and "--records FILE" in err


# ---------------------------------------------------------------- audits with a person column: the person-level ROC


def test_audit_with_person_column_reports_a_person_level_roc(setup, tmp_path):
    from privaudit.pipeline import audit
    from privaudit.report import report_dict, write_report

    target, data, frame, _ = setup
    result = audit(data, [target], ["loss"], fprs=[0.1, 0.01], n_bootstrap=200, seed=0)
    roc = result.persons["boosted"]
    n_persons = frame[frame.split != "population"].groupby("split").person.nunique()
    assert roc.n_member_persons == n_persons["member"] and roc.n_nonmember_persons == n_persons["nonmember"]
    assert sum(m for m, _ in roc.sizes.values()) == roc.n_member_persons and set(roc.sizes) == {1, 2, 3, 4, 5}
    record_auc = result.best("boosted").metrics.auc
    # persons with several records are easier to tell apart than single records
    assert roc.metrics.auc_ci[0] > 0.5 and roc.metrics.auc > record_auc
    assert roc.metrics.epsilon_lower_bound is None
    document = report_dict(result)
    assert document["schema_version"] == "1.2"
    persons = document["persons"]["boosted"]
    assert persons["n_member_persons"] == roc.n_member_persons and "Stouffer" in persons["statistic"]
    assert set(persons["tpr_at_fpr"]) == {"0.1", "0.01"} and persons["sizes"]["5"][0] > 0
    from io import StringIO

    from rich.console import Console

    from privaudit.report import print_summary

    buffer = StringIO()
    print_summary(result, console=Console(file=buffer, width=200))
    assert f"Persons (threshold[loss], records combined per person): AUC {roc.metrics.auc:.3f}" in buffer.getvalue()
    write_report(result, tmp_path / "report")
    page = (tmp_path / "report" / "report.html").read_text()
    assert "<h3>Persons</h3>" in page and f"{roc.n_member_persons:,}" in page


def test_person_level_roc_of_the_best_of_several_attacks_has_bonferroni_widened_intervals(setup):
    """The best attack is chosen among K on the same records: its person-level intervals are computed at 1 − (1 − c)/K."""
    from privaudit.pipeline import audit

    target, data, _, _ = setup
    one = audit(data, [target], ["loss"], fprs=[0.1], n_bootstrap=200, seed=0).persons["boosted"]
    three = audit(data, [target], ["loss", "logit_confidence", "correctness"], fprs=[0.1], n_bootstrap=200, seed=0).persons["boosted"]
    assert (one.chosen_from, one.interval_confidence) == (1, 0.95)
    assert three.chosen_from == 3 and abs(three.interval_confidence - (1 - 0.05 / 3)) < 1e-12
    assert three.attack == one.attack  # loss is the strongest of the three here: the same statistic, only the confidence differs
    (low1, high1), (low3, high3) = one.metrics.auc_ci, three.metrics.auc_ci
    assert low3 <= low1 and high3 >= high1 and (high3 - low3) > (high1 - low1)
    assert three.to_dict()["chosen_from"] == 3


def test_audit_without_person_column_has_no_persons_key(setup):
    from privaudit.pipeline import audit
    from privaudit.report import report_dict

    target, data, frame, _ = setup
    plain = audit_data_from_frame(frame, label="label", id_column="record_id", features=FEATURES, membership_column="split")
    result = audit(plain, [target], ["loss"], fprs=[0.1], n_bootstrap=50, seed=0)
    assert result.persons == {} and "persons" not in report_dict(result)


def test_check_persons_with_sampled_null_and_members_maps_record_ids_to_persons(setup):
    """An online check scores samples of the non-members and members: their record ids say whose they are."""
    from privaudit.person_check import check_persons

    _, data, _, _ = setup
    rng = np.random.default_rng(0)
    null_pos, member_pos = np.sort(rng.choice(data.nonmembers, 5000, replace=False)), np.sort(rng.choice(data.members, 600, replace=False))
    scored = {"checked": rng.normal(size=4), "real": rng.normal(size=null_pos.size), "members": rng.normal(size=member_pos.size) + 1}
    notes: list = []
    out = check_persons(data, ["a", "a", "b", "c"], scored, rng.normal(size=4), alpha=ALPHA, seed=0, null="real", notes=notes,
                        null_ids=data.records.ids[null_pos], member_ids=data.records.ids[member_pos])
    assert [v.n_records for v in out] == [2, 1, 1] and any("normal scores" in n for n in notes)  # checked-only ratios: not usable
    with pytest.raises(DataError, match="pass their record ids"):
        check_persons(data, ["a"], {"checked": np.zeros(1), "real": scored["real"], "members": scored["members"]}, None, alpha=ALPHA,
                      seed=0, null="real", notes=[])


def test_a_person_check_beside_an_audit_is_rendered_in_the_html_report(setup, tmp_path):
    from privaudit.pipeline import audit
    from privaudit.report import write_report

    target, data, frame, _ = setup
    result = audit(data, [target], ["loss"], fprs=[0.1], n_bootstrap=50, seed=0)
    chosen = frame[frame.person.isin(["m5", "n7"])]
    check = check_records(target, data, records_from_frame(chosen, data, label="label", id_column="record_id"), attack="loss",
                          person_ids=chosen.person.to_numpy())
    result.record_checks.append(check)
    write_report(result, tmp_path / "report")
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("<h3>Persons</h3>") == 2  # the audit's person-level ROC and the check's persons table
    assert "<code>m5</code>" in page and "<code>n7</code>" in page


@pytest.mark.parametrize("spoil, expected", [
    (lambda p: p.assign(person=np.nan), "person column 'person' is empty in"),
    (lambda p: p.assign(person=[""] + list(p.person[1:])), "is empty in 1 row(s) (first: row 1)"),
    (lambda p: p.assign(person=["  "] + list(p.person[1:])), "is empty in 1 row(s)"),
    (lambda p: __import__("pandas").concat([p, p.iloc[:1]]), "repeats record"),
])
def test_blank_or_repeated_person_records_are_refused(cli_folder, capsys, monkeypatch, spoil, expected):
    """Regression: blank person ids became one person '' (all such records pooled), and a repeated row counted twice."""
    import pandas as pd

    monkeypatch.chdir(cli_folder)
    spoil(pd.read_csv("people.csv")).to_csv("spoilt.csv", index=False)
    code, out, err = _run(capsys, "check", "audit.yaml", "--records", "spoilt.csv", "--person-column", "person", "--attack", "loss")
    assert code == 2 and err.count("\n") == 1 and err.startswith("privaudit: error: spoilt.csv: ") and expected in err, err


def test_audit_data_refuses_blank_person_ids(setup):
    _, _, frame, _ = setup
    for blank in (None, ""):
        spoilt = frame.copy()
        spoilt.loc[3, "person"] = blank
        with pytest.raises(DataError, match=r"person column 'person' is empty in 1 row\(s\) \(first: row 4\)"):
            audit_data_from_frame(spoilt, label="label", id_column="record_id", features=FEATURES, membership_column="split",
                                  person_column="person")


def test_check_attack_named_in_a_configs_attacks_list_runs(cli_folder, capsys, monkeypatch):
    """Regression: `check CONFIG --attack loss` failed ("unknown attack 'loss'") when the config had its own `attacks: [loss, ...]`."""
    import yaml

    monkeypatch.chdir(cli_folder)
    config = yaml.safe_load((cli_folder / "audit.yaml").read_text())
    config["attacks"] = ["loss", "logit_confidence", {"name": "classwise_threshold", "signal": "loss"}]
    (cli_folder / "with_attacks.yaml").write_text(yaml.safe_dump(config))
    code, out, err = _run(capsys, "check", "with_attacks.yaml", "--records", "people.csv", "--attack", "loss", "--json")
    assert code == 0, err
    assert json.loads(out)["attack"] == "threshold[loss]"


@pytest.mark.parametrize("spoil, expected", [
    (lambda f: f.assign(split=np.where(f.index == f.index[f.person == "n7"][0], "member", f.split)), "person 'n7' has records with different roles"),
    (lambda f: f.assign(person=np.where(f.index == 5, "", f.person)), "person column 'person' is empty in 1 row(s) (first: row 6)"),
])
def test_deletion_check_falling_back_to_the_data_files_person_column_validates_it(cli_folder, capsys, monkeypatch, spoil, expected):
    """Regression: --before --person-column without data.person_column read the data file's column unchecked (blank ids became one
    person '', persons with member and non-member records became null persons)."""
    import pandas as pd
    import yaml

    monkeypatch.chdir(cli_folder)
    spoil(pd.read_csv("records.csv", dtype={"person": str, "record_id": str}, keep_default_na=False)).to_csv("spoilt_data.csv", index=False)
    config = yaml.safe_load((cli_folder / "audit.yaml").read_text())
    del config["data"]["person_column"]
    config["data"]["path"] = "spoilt_data.csv"
    config["targets"].append({**config["targets"][0], "name": "after"})
    (cli_folder / "deletion.yaml").write_text(yaml.safe_dump(config))
    code, out, err = _run(capsys, "check", "deletion.yaml", "--records", "people.csv", "--person-column", "person", "--target", "after",
                          "--before", "forest", "--attack", "loss")
    assert code == 2 and err.count("\n") == 1 and "spoilt_data.csv" in err and expected in err, err


def test_person_verdict_with_several_persons_quotes_the_power_and_its_bh_floor():
    several = person_verdict(0.4, 0.8, ALPHA, 0.62, 500, 3, multiple=12, power_floor=0.21)
    assert ("this test detects about 62 % of training persons with 3 records at α = 0.05 checked alone; checked with the other 11, "
            "between 21 % (p ≤ α/12 = 0.0042) and 62 %") in several
    assert person_verdict(0.4, None, ALPHA, 0.62, 500, 3, power_floor=0.62) == person_verdict(0.4, None, ALPHA, 0.62, 500, 3)
