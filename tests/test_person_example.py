"""The RAND HIE person-years example runs end to end: an audit with a person column, then person checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_rand_hie_persons_example(tmp_path):
    out = tmp_path / "persons"
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "rand_hie_persons.py"), "--out", str(out), "--reference-models", "4"],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    roc = report["persons"]["admission_forest"]
    assert roc["n_member_persons"] > 2500 and roc["n_nonmember_persons"] > 1000 and roc["auc_ci"][0] > 0.5
    assert set(roc["sizes"]) == {"1", "2", "3", "4", "5"}
    assert "<h3>Persons</h3>" in (out / "report.html").read_text()
    check = json.loads((out / "check.json").read_text())
    persons = check["persons"]
    assert [p["n_records"] for p in persons] == [1, 3, 5, 1, 3, 5]
    assert len(check["records"]) == 18 and check["attack"].startswith("rmia[offline")
    for p in persons:
        assert p["n_null_persons"] > 100 and p["power"]["value"] is not None and p["power"]["ci95"][0] <= p["power"]["value"] <= p["power"]["ci95"][1]
        assert p["verdict"].startswith(("Strong evidence", "Moderate evidence", "No evidence"))
    assert any("log-likelihood ratios" in n for n in check["notes"])
    assert "person-level AUC" in run.stdout and "truly a member" in run.stdout
