"""The built-in demo end to end (slow: trains two MLPs on UCI Adult, twice)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1600)]  # the module fixture runs the whole demo (about 5 min, more on busy cores)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "privaudit-demo"
    completed = subprocess.run(
        [sys.executable, "-c", "from privaudit.cli import main; main()", "demo", "--out", str(out)],
        capture_output=True, text=True, timeout=1500,
    )
    assert completed.returncode == 0, completed.stderr
    assert "report.html" in completed.stdout
    (out.parent / "stderr.txt").write_text(completed.stderr)  # the progress it showed (not a terminal: plain lines)
    return out


def test_demo_shows_target_and_reference_training_as_plain_lines(demo_dir):
    """Off a terminal, the minutes of training are not silent: epoch and model counts with an ETA, one unwrapped line each."""
    lines = (demo_dir.parent / "stderr.txt").read_text().splitlines()
    assert lines and all(line.startswith("· ") for line in lines) and "\x1b[" not in "".join(lines)
    training = [line for line in lines if line.startswith("· training overfit_mlp on 1,000 Adult members: ")]
    assert training[0].endswith(": 0/200 epochs (0 %)") and " 200 epochs in " in training[-1]
    assert any(line.startswith("· training regularised_mlp on 1,000 Adult members: done after ") for line in lines)  # early stopping
    reference = [line for line in lines if line.startswith("· overfit_mlp: reference models: ")]
    assert reference[0].endswith("0/16 models (0 %)") and " 16 models in " in reference[-1]
    assert any(len(line) > 100 for line in lines)  # long lines stay whole


def test_demo_writes_report_that_shows_the_contrast(demo_dir):
    report = json.loads((demo_dir / "report.json").read_text())
    assert (demo_dir / "report.html").is_file() and (demo_dir / "scores.csv").is_file()
    best = {}
    for result in report["results"]:
        assert result["n_members"] == 1_000 and result["n_nonmembers"] == 10_000
        if result["auc"] > best.get(result["target"], {"auc": -1})["auc"]:
            best[result["target"]] = result
    overfit, regularised = best["overfit_mlp"], best["regularised_mlp"]
    assert overfit["auc"] > 0.6
    assert overfit["auc_ci"][0] > 0.5
    assert regularised["auc"] < overfit["auc"]
    # the verdicts read as graded, corrected over each target's attacks, and the notes name the reference models that ran
    claims = report["claims"]
    assert claims["overfit_mlp"]["status"] in ("clear", "severe") and claims["regularised_mlp"]["detected"]
    assert claims["overfit_mlp"]["n_attacks"] == sum(r["target"] == "overfit_mlp" for r in report["results"])
    assert report["verdicts"]["overfit_mlp"].startswith(("Clear membership leakage", "Severe membership leakage"))
    assert not any("without reference models" in note for note in report["notes"])
    assert any("overfit_mlp: 16 offline reference models" in note for note in report["notes"])
    # 10,000 non-members resolve FPR 0.1 % (10 expected false positives) but not 0.01 %
    points = overfit["tpr_at_fpr"]
    assert points["0.001"]["supported"] is True
    assert points["0.0001"]["supported"] is False


def test_demo_reference_attacks_beat_loss_at_low_fpr(demo_dir):
    report = json.loads((demo_dir / "report.json").read_text())
    overfit = {r["attack"]: r for r in report["results"] if r["target"] == "overfit_mlp"}
    loss = overfit["threshold[loss]"]["tpr_at_fpr"]
    for attack in ("lira[offline,logit_confidence]", "rmia[offline,confidence]"):
        points = overfit[attack]["tpr_at_fpr"]
        assert points["0.01"]["tpr"] > loss["0.01"]["tpr"], attack
        assert points["0.001"]["tpr"] >= loss["0.001"]["tpr"], attack
    assert report["run"]["reference"]["overfit_mlp"]["n_models"] == 16


def test_demo_training_is_deterministic_under_its_seed(demo_dir, tmp_path):
    from privaudit.demo import prepare_demo

    prepare_demo(tmp_path / "again", seed=0, reference_models=0)
    for name in ("overfit_mlp", "regularised_mlp"):
        assert digest(demo_dir / "models" / f"{name}.safetensors") == digest(tmp_path / "again" / "models" / f"{name}.safetensors")
    assert digest(demo_dir / "data" / "adult_demo.parquet") == digest(tmp_path / "again" / "data" / "adult_demo.parquet")


def test_audit_command_reruns_the_demo_config(demo_dir, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-c", "from privaudit.cli import main; main()", "audit", str(demo_dir / "config.yaml"), "--out", str(tmp_path / "rerun"), "--quiet"],
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    rerun = json.loads((tmp_path / "rerun" / "report.json").read_text())["results"]
    original = json.loads((demo_dir / "report.json").read_text())["results"]
    assert [r["auc"] for r in rerun] == [r["auc"] for r in original]


def test_demo_report_has_groups_and_worked_record_and_person_checks(demo_dir):
    report = json.loads((demo_dir / "report.json").read_text())
    slicings = {s["name"] for s in report["groups"]["overfit_mlp"]["slicings"]}
    assert {"sex", "race", "age band"} <= slicings
    check, person_check = report["record_checks"]
    # the strongest check the demo has: online LiRA on models trained with the checked records, the real null
    assert check["target"] == "overfit_mlp" and check["attack"].startswith("lira[online")
    assert len(check["records"]) == 6 and check["null"] == "real"
    assert "Benjamini–Hochberg" in check["multiple_testing_note"]
    assert all(0 < r["p_value"] <= 1 for r in check["records"])
    # several records per person: RAND HIE study years grouped by person, sizes 1, 3 and 5 per role
    assert person_check["target"] == "admission_forest"
    persons = person_check["persons"]
    assert sorted(p["n_records"] for p in persons) == [1, 1, 3, 3, 5, 5]
    assert len(person_check["records"]) == 18
    assert all(0 < p["p_value"] <= p["q_value"] <= 1 and 0 <= p["power"]["value"] <= 1 for p in persons)
    html = (demo_dir / "report.html").read_text()
    assert "Was this record used? overfit_mlp" in html and "By sex" in html and "By age band" in html
    assert "Was this person&#39;s data used? admission_forest" in html or "Was this person's data used? admission_forest" in html
    assert "<h3>Persons</h3>" in html


def _check(demo_dir, *args):
    return subprocess.run(
        [sys.executable, "-c", "from privaudit.cli import main; main()", "check", str(demo_dir / "config.yaml"), "--target", "overfit_mlp", "--json", *args],
        capture_output=True, text=True, timeout=600,
    )


def test_check_command_on_the_demo_model_csv_and_single_record(demo_dir, tmp_path):
    import pandas as pd

    frame = pd.read_parquet(demo_dir / "data" / "adult_demo.parquet")
    people = pd.concat([frame[frame.membership == "member"].head(2), frame[frame.membership == "nonmember"].head(1)])
    people.drop(columns="membership").to_csv(tmp_path / "people.csv", index=False)
    completed = _check(demo_dir, "--records", str(tmp_path / "people.csv"), "--attack", "rmia", "--null", "both", "--fabricated", "2000")
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout)
    assert [r["id"] for r in result["records"]] == people.record_id.astype(str).tolist()
    assert "Benjamini–Hochberg" in result["multiple_testing_note"] and result["n_null"] == {"real": 10_000, "fabricated": 2000}

    person = frame[frame.membership == "member"].iloc[0]
    pairs = [f"--record={column}={person[column]}" for column in frame.columns if column not in ("membership", "record_id")]
    completed = _check(demo_dir, *pairs)
    assert completed.returncode == 0, completed.stderr[-2000:]
    single = json.loads(completed.stdout)
    assert len(single["records"]) == 1 and "no multiple-testing correction" in single["multiple_testing_note"]
    assert single["records"][0]["verdict"].split(" this record")[0] in ("Strong evidence", "Moderate evidence", "No evidence")
