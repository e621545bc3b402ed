"""The RAND HIE patient example runs end to end: audit with condition groups, then per-patient checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_rand_hie_patients_example(tmp_path):
    out = tmp_path / "hie"
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "rand_hie_patients.py"), "--out", str(out), "--fabricated", "3000"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    slicings = {s["name"]: s for s in report["groups"]["admission_forest"]["slicings"]}
    assert {"condition", "physical limitation", "self-rated health", "class frequency", "outlierness"} <= set(slicings)
    groups = {g["group"]: g for g in slicings["condition"]["groups"]}
    assert "physical limitation" in groups and groups["neither"]["n_members"] > 1000
    for g in groups.values():  # every group carries its sizes and, when not too small, a CI
        assert g["too_small"] or (g["auc_ci"][0] <= g["auc"] <= g["auc_ci"][1])
    check = json.loads((out / "check.json").read_text())
    assert len(check["records"]) == 6 and check["null"] == "both" and "Benjamini–Hochberg" in check["multiple_testing_note"]
    truth = {r["id"]: r for r in check["records"]}
    patients = (out / "patients.csv").read_text().splitlines()[1:]
    assert len(patients) == 6 and all(r["verdict"] for r in truth.values())
    # non-members (the last three checked) are never called members; the report names the power
    assert not any(r["significant"] for r in check["records"][3:])
    assert "power at α = 0.05" in run.stdout and "report:" in run.stdout
    assert "patient" in run.stdout and "(truly a member)" in run.stdout
