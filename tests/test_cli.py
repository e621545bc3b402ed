"""The command line on small configs: exit codes, one-line errors, reports written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from privaudit.cli import main
from privaudit.datasets import make_synthetic_tabular

FEATURES = ["x0", "x1", "x2", "x3", "x4", "colour"]


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the real console script in a subprocess: (exit code, stdout, stderr)."""
    completed = subprocess.run([sys.executable, "-c", "from privaudit.cli import main; main()", *args], capture_output=True, text=True, timeout=300)
    return completed.returncode, completed.stdout, completed.stderr


@pytest.fixture(scope="module")
def audit_folder(tmp_path_factory) -> Path:
    """A synthetic dataset, an overfit sklearn model saved with skops, its outputs as a file, and a config."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    import skops.io as sio

    folder = tmp_path_factory.mktemp("audit")
    frame = make_synthetic_tabular(1600, label_noise=0.3, seed=3)
    roles = np.array(["member"] * 400 + ["nonmember"] * 800 + ["population"] * 400)
    frame["split"] = np.random.default_rng(0).permutation(roles)
    frame.to_csv(folder / "records.csv", index=False)
    members = frame[frame.split == "member"]
    model = make_pipeline(
        ColumnTransformer([("colour", OneHotEncoder(), ["colour"])], remainder="passthrough"),
        RandomForestClassifier(n_estimators=30, random_state=0),
    ).fit(members[FEATURES], members.label)
    sio.dump(model, folder / "forest.skops")
    trusted = sorted(sio.get_untrusted_types(file=folder / "forest.skops"))
    probabilities = model.predict_proba(frame[FEATURES])
    pd.DataFrame({"record_id": frame.record_id, "0": probabilities[:, 0], "1": probabilities[:, 1]}).to_csv(folder / "vendor_outputs.csv", index=False)
    config = {
        "seed": 1,
        "data": {"path": "records.csv", "label": "label", "id_column": "record_id", "features": FEATURES, "membership": {"column": "split"}},
        "targets": [
            {"name": "forest", "type": "sklearn", "path": "forest.skops", "trusted_types": trusted},
            {"name": "vendor", "type": "precomputed", "path": "vendor_outputs.csv", "outputs": "probabilities"},
        ],
        "attacks": ["loss", "logit_confidence", {"name": "classwise_threshold", "signal": "loss"}],
        "metrics": {"bootstrap": 200},
        "output": "report",
    }
    (folder / "audit.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def write_config(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_audit_writes_reports_and_exits_zero(audit_folder):
    code, out, err = run_cli("audit", str(audit_folder / "audit.yaml"))
    assert code == 0, err
    report = json.loads((audit_folder / "report" / "report.json").read_text())
    assert (audit_folder / "report" / "report.html").stat().st_size > 10_000
    assert "report.html" in out
    by_key = {(r["target"], r["attack"]): r for r in report["results"]}
    assert len(by_key) == 6
    forest, vendor = by_key[("forest", "threshold[loss]")], by_key[("vendor", "threshold[loss]")]
    # the vendor file holds the forest's own outputs: the same audit from outputs alone
    assert forest["auc"] == pytest.approx(vendor["auc"], abs=1e-12)
    assert forest["auc_ci"] == pytest.approx(vendor["auc_ci"], abs=1e-12)  # paired bootstrap: same resamples
    assert forest["n_members"] == 400 and forest["n_nonmembers"] == 800
    # an overfit forest on noisy labels leaks, and the CI says so
    assert forest["auc_ci"][0] > 0.6
    scores = pd.read_csv(audit_folder / "report" / "scores.csv")
    assert len(scores) == 1200


def test_out_option_and_determinism(audit_folder, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        code, _, err = run_cli("audit", str(audit_folder / "audit.yaml"), "--out", str(out), "--quiet")
        assert code == 0, err
    a = json.loads((first / "report.json").read_text())
    b = json.loads((second / "report.json").read_text())
    strip = lambda report: [{k: v for k, v in r.items()} for r in report["results"]]  # noqa: E731
    assert strip(a) == strip(b)
    assert a["run"]["config_hash"] == b["run"]["config_hash"]
    assert pd.read_csv(first / "scores.csv").equals(pd.read_csv(second / "scores.csv"))


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", "config file not found"),
        ("unknown_key", "unknown key 'data.lable'; allowed keys here: path, label"),
        ("bad_yaml", "not valid YAML at line"),
        ("missing_label", "label column 'income' not found"),
        ("unsafe_tag", "not valid YAML"),
        ("unknown_attack", "unknown attack 'lira2'"),
        ("overlap", "1 record is both members and nonmembers (e.g. rec-"),
        ("bad_probabilities", "vendor' (/"),
        ("labels_only", "gives only labels"),
    ],
)
def test_user_mistakes_give_one_line_and_exit_2(audit_folder, tmp_path, case, expected):
    base = yaml.safe_load((audit_folder / "audit.yaml").read_text())
    base["data"]["path"] = str(audit_folder / "records.csv")
    for target in base["targets"]:
        target["path"] = str(audit_folder / target["path"])
    if case == "missing":
        path = tmp_path / "missing.yaml"
    elif case == "bad_yaml":
        path = write_config(tmp_path, "c.yaml", "data: [unclosed\n")
    elif case == "unsafe_tag":
        path = write_config(tmp_path, "c.yaml", "data: !!python/object/apply:os.system ['echo pwned']\n")
    else:
        if case == "unknown_key":
            base["data"]["lable"] = "label"
        elif case == "missing_label":
            base["data"]["label"] = "income"
        elif case == "unknown_attack":
            base["attacks"] = ["lira2"]
        elif case == "overlap":
            frame = pd.read_csv(audit_folder / "records.csv")
            member_id = frame.record_id[frame.split == "member"].iloc[0]
            (tmp_path / "m.txt").write_text("\n".join(frame.record_id[frame.split == "member"]))
            (tmp_path / "n.txt").write_text("\n".join([member_id, *frame.record_id[frame.split == "nonmember"]]))
            base["data"]["membership"] = {"members": str(tmp_path / "m.txt"), "nonmembers": str(tmp_path / "n.txt")}
        elif case == "bad_probabilities":
            outputs = pd.read_csv(audit_folder / "vendor_outputs.csv")
            outputs.loc[5, "1"] += 0.2
            outputs.to_csv(tmp_path / "bad.csv", index=False)
            base["targets"] = [{"name": "vendor", "type": "precomputed", "path": str(tmp_path / "bad.csv")}]
        elif case == "labels_only":
            base["targets"][0]["outputs"] = "labels"
            base["targets"] = base["targets"][:1]
        path = write_config(tmp_path, "c.yaml", yaml.safe_dump(base))
    code, out, err = run_cli("audit", str(path))
    assert code == 2
    errors = [line for line in err.splitlines() if not line.startswith("· ")]  # progress lines start with "· "
    assert len(errors) == 1, err
    assert errors[0].startswith("privaudit: error: ")
    assert expected in errors[0]
    assert "Traceback" not in err
    assert not (tmp_path / "report").exists()
    if case == "bad_probabilities":
        assert "do not sum to 1 (record rec-" in errors[0] and "bad.csv" in errors[0]


def test_unsafe_yaml_tag_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = write_config(tmp_path, "c.yaml", f"data: !!python/object/apply:os.system ['touch {marker}']\n")
    code, _, _ = run_cli("audit", str(path))
    assert code == 2
    assert not marker.exists()


def test_help_version_and_unknown_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert "privaudit, version" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "privaudit: error: No such command 'frobnicate'."


def test_keyboard_interrupt_exits_130(monkeypatch, capsys, audit_folder):
    audit_module = sys.modules["privaudit.pipeline"]  # `privaudit.audit` is the function; run_audit lives in privaudit.pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(audit_module, "run_audit", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", str(audit_folder / "audit.yaml"), "--quiet"])
    assert exit_info.value.code == 130
    assert capsys.readouterr().err.strip() == "privaudit: error: interrupted"


def test_out_of_memory_is_one_line_with_exit_3(monkeypatch, capsys, audit_folder):
    """numpy's own allocation failure (an array of 8 PB) inside the audit: one line saying what to shrink, exit 3, no traceback."""
    import numpy as np

    audit_module = sys.modules["privaudit.pipeline"]

    def too_big(*args, **kwargs):
        np.empty((10**15,), dtype=np.float64)

    monkeypatch.setattr(audit_module, "run_audit", too_big)
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", str(audit_folder / "audit.yaml"), "--quiet", "--force"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 3 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("privaudit: error: out of memory (") and "fewer reference models" in err
