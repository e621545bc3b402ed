"""A text audit's result in the one report (report/text_section.py): report.json 'text', scores.csv, canaries.csv, HTML, terminal,
and gate / model-card reading it. The 'model' is a stand-in whose token log-probabilities favour the member texts' words."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from hostile import assert_one_line_error, run_cli
from privaudit.report import print_summary, report_dict, write_report
from privaudit.report_document import load_report
from privaudit.pipeline.text_audit import audit_text
from privaudit.text.canary_audit import audit_canaries
from privaudit.text.canaries import Canary
from privaudit.text.token_scores import TokenLogProbs


class FavouringScorer:
    """log p of a token: −1 for words in ``favoured`` (the 'memorised' members' words), else a hash-spread value in (−9, −1)."""

    name = "stand-in-lm"

    def __init__(self, favoured):
        self.favoured = set(favoured)

    def token_log_probs(self, texts, *, vocab_stats: bool = False) -> TokenLogProbs:
        per_text = []
        for text in texts:
            tokens = text.split() or [text]
            per_text.append(np.array([-1.0 if t in self.favoured else -1.0 - int(hashlib.sha256(t.encode()).hexdigest()[:6], 16) / 2**24 * 8
                                      for t in tokens]))
        return TokenLogProbs.from_arrays(per_text)


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(400)]
    texts = [" ".join(rng.choice(words, 10)) for _ in range(120)]
    members, nonmembers = texts[:60], texts[60:]
    scorer = FavouringScorer(w for t in members[:40] for w in t.split())
    text_result = audit_text(scorer, members, nonmembers, attacks=["loss", "zlib"], n_bootstrap=100, fprs=(0.1,))
    canaries = [Canary(f"w{i} PIN is ", f"{i:04d}") for i in range(4)]
    text_result.text.canaries = audit_canaries(scorer, canaries, [True, False, True, False], repetitions=2, n_candidates=20, extrapolate=False)
    return text_result


def test_report_json_has_the_text_section(result):
    document = report_dict(result)
    assert document["schema_version"] == "1.2"
    text = document["text"]
    assert set(text) == {"reference", "warning", "claim", "blind_baseline", "beats_blind_baseline", "canaries", "queries", "setup"}
    assert text["beats_blind_baseline"] == {f"stand-in-lm/{r.attack}": result.text.beats_blind_baseline(r) for r in result.results}
    assert text["claim"]["status"] == "leaks" and document["verdicts"] == {"stand-in-lm": text["claim"]["sentence"]}
    assert document["claims"] == {} and document["targets"][0]["output_kind"] == "token_log_probs"
    assert document["data"]["classes"] == [] and document["data"]["n_population"] == 0
    assert text["canaries"]["n_canaries"] == 4 and text["blind_baseline"]["auc"] == result.text.blind.metrics.auc
    assert any("Holm" in note for note in document["notes"])
    json.dumps(document, allow_nan=False)


def test_report_files_gate_and_model_card(result, tmp_path):
    files = write_report(result, tmp_path / "report")
    assert sorted(files) == ["canaries", "claims", "html", "json", "scores"]
    scores = pd.read_csv(files["scores"])
    assert list(scores.columns) == ["record_id", "membership", "stand-in-lm/loss", "stand-in-lm/zlib", "blind_baseline", "text"]
    assert scores["text"].tolist() == result.text.texts
    assert len(pd.read_csv(files["canaries"])) == 4
    page = files["html"].read_text()
    assert 'id="text"' in page and "beats blind baseline" in page and "Canaries" in page
    document, _ = load_report(tmp_path / "report")
    assert document["text"]["claim"]["status"] == "leaks"
    # gate reads a text report like any other: the loss attack's AUC is above 0.6, below 0.99
    assert run_cli(["gate", tmp_path / "report", "--attack", "loss", "--max-auc", "0.99"]).code == 0
    failed = run_cli(["gate", tmp_path / "report", "--attack", "loss", "--max-auc", "0.6"])
    assert failed.code == 1 and failed.escaped is None
    card = run_cli(["model-card", tmp_path / "report"])
    assert card.code == 0, card.err
    assert "Blind baseline" in card.out and "Canaries: exposure" in card.out and result.text.claim.sentence in card.out
    # a later run without canaries removes the earlier canaries.csv (it would not belong to the new report)
    result.text.canaries, canaries = None, result.text.canaries
    try:
        files = write_report(result, tmp_path / "report")
    finally:
        result.text.canaries = canaries
    assert "canaries" not in files and not (tmp_path / "report" / "canaries.csv").exists()


@pytest.mark.parametrize("change, field", [
    (lambda t: t.update(beats_blind_baseline={"x/loss": "yes"}), "text.beats_blind_baseline['x/loss']"),
    (lambda t: t.update(warning=3), "text.warning"),
    (lambda t: t["blind_baseline"].update(auc="high"), "text.blind_baseline.auc"),
    (lambda t: t.update(canaries={"summary": {"inserted": {"mean": []}}}), "text.canaries.summary['inserted'].mean"),
    (lambda t: t.update(claim=[]), "text.claim"),
])
def test_a_malformed_text_section_is_one_line(result, tmp_path, change, field):
    document = report_dict(result)
    change(document["text"])
    path = tmp_path / "report.json"
    path.write_text(json.dumps(document))
    for command in (["model-card", path], ["gate", path, "--max-auc", "0.9"]):
        assert_one_line_error(run_cli(command), code=2, names=[field])


def test_terminal_summary_prints_the_text_section(result):
    from rich.console import Console

    console = Console(record=True, width=200)
    print_summary(result, console)
    out = console.export_text()
    assert "member vs 60 non-member texts" in out and "population" not in out
    assert "Blind baseline (no model queries)" in out and "Canary exposure" in out and result.text.claim.sentence[:40] in out
