"""The RAND HIE deletion example (small): exact retraining shows no evidence beyond α; the CLI runs the same check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ALPHA = 0.05


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "privaudit.cli", *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow
def test_rand_hie_deletion_example_small(tmp_path):
    out = tmp_path / "hie"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "rand_hie_deletion.py"), "--out", str(out), "--people", "2000",
                          "--epochs", "30", "--reference-models", "4"], capture_output=True, text=True, timeout=900, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads((out / "figures.json").read_text())
    facts = figures["facts"]
    assert facts["people"] == 2000 and facts["deleted_people"] == 50 and facts["deleted_records"] >= 50
    # (a) exact retraining: the deleted persons are non-members of after_exact, so the after-test flags at most α of them
    # (one-sided binomial bound α·n + 3σ), and none after the Benjamini–Hochberg adjustment beyond that bound
    exact = figures["exact"]
    bound = ALPHA * exact["persons"] + 3 * np.sqrt(ALPHA * (1 - ALPHA) * exact["persons"])
    assert exact["persons"] == 50 and exact["after_p_le_alpha"] <= bound and exact["still_detectable_q"] <= bound
    assert {"exact", "unlearned", "kept_control"} <= set(figures) and figures["attack"].startswith("rmia")
    assert "still detectable" in run.stdout and "accuracy" in run.stdout

    # the same check from the command line, reusing the stored reference models
    cli = _cli("check", str(out / "config.yaml"), "--records", str(out / "deleted.csv"), "--person-column", "person_id",
               "--target", "after_exact", "--before", "before", "--json", "-q")
    assert cli.returncode == 0, cli.stderr[-3000:]
    document = json.loads(cli.stdout)
    assert document["kind"] == "deletion" and document["target"] == "after_exact" and document["before"] == "before"
    persons = document["persons"]
    assert len(persons) == 50 and sum(p["n_records"] for p in persons) == facts["deleted_records"]
    for p in persons:
        block = p["deletion"]
        assert 0 < p["p_value"] <= 1 and 0 < block["p_drop"] <= 1 and block["n_null_persons"] >= 19
        assert np.isclose(block["delta"], p["statistic"] - block["before_statistic"]) and p["verdict"]
    saved = json.loads((out / "deletion-exact.json").read_text())
    assert [p["p_value"] for p in saved["persons"]] == [p["p_value"] for p in persons]  # same test, same numbers

    wrong = _cli("check", str(out / "config.yaml"), "--records", str(out / "deleted.csv"), "--target", "after_exact", "--before", "nope")
    assert wrong.returncode != 0 and "--before: no target 'nope'" in wrong.stderr and "Traceback" not in wrong.stderr
    missing = _cli("check", str(out / "config.yaml"), "--records", str(out / "deleted.csv"), "--person-column", "patient",
                   "--target", "after_exact", "--before", "before")
    assert missing.returncode != 0 and "no person column 'patient'" in missing.stderr and "Traceback" not in missing.stderr
