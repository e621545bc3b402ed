"""The built-in demo end to end (slow: trains two MLPs on UCI Adult, twice)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "privaudit-demo"
    completed = subprocess.run(
        [sys.executable, "-c", "from privaudit.cli import main; main()", "demo", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    assert "report.html" in completed.stdout
    return out


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
