"""Bad-input battery for `privaudit gate` and `privaudit model-card`: broken reports and bars that are not numbers.

Every malformed report ends in one line ``privaudit: error: <file>: <field> ...; <fix>`` with exit 2 and no
traceback; a NaN or infinite bar is a usage error (exit 2); a figure the report holds as NaN or null fails the
bar it is compared with (exit 1) and says so.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from hostile import assert_one_line_error, run_cli


def _report() -> dict:
    """A small well-formed report.json document (two attacks of one target, heuristic ε)."""
    entry = {
        "target": "model", "attack": "loss", "auc": 0.61, "auc_ci": [0.58, 0.64], "confidence": 0.95, "n_members": 1000,
        "n_nonmembers": 1000,
        "tpr_at_fpr": {"0.01": {"tpr": 0.02, "ci": [0.012, 0.031], "fpr_realised": 0.01, "supported": True}},
        "epsilon_lower_bound": {"epsilon_lb": 0.3, "label": "heuristic estimate", "valid": False, "delta": 1e-5, "confidence": 0.95},
    }
    second = copy.deepcopy(entry)
    second.update(attack="entropy", auc=0.55, auc_ci=[0.52, 0.58])
    return {"results": [entry, second], "targets": [{"name": "model"}], "data": {"n_members": 1000, "n_nonmembers": 1000},
            "run": {"seed": 0}, "verdicts": {"model": "Weak evidence of leakage."}}


def _write(folder: Path, document=None, *, text: str | bytes | None = None) -> Path:
    path = folder / "report.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text if text is not None else json.dumps(document), encoding="utf-8")
    return path


def _mutated(change) -> dict:
    document = _report()
    change(document)
    return document


def _set(path: list, value):
    def change(document):
        node = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _drop(path: list):
    def change(document):
        node = document
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return change


# (case id, report text or document, substrings the one error line must name)
MALFORMED = [
    ("empty file", "", ["the file is empty", "rerun privaudit audit"]),
    ("not json", "{results: [", ["not a valid JSON report"]),
    ("not utf-8", b"\xff\xfe\x00garbage", ["not UTF-8"]),
    ("nested too deep", "[" * 100000 + "]" * 100000, ["nested too deeply"]),
    ("a list at the top", [1, 2, 3], ["top level", "expected the report object, got a list"]),
    ("results missing", {"run": {}}, ["results", "not a privaudit report.json"]),
    ("results an object", _mutated(_set(["results"], {"a": 1})), ["results", "expected a list, got an object"]),
    ("results empty", _mutated(_set(["results"], [])), ["results", "no results"]),
    ("a result is a list", _mutated(_set(["results", 0], [0.6])), ["results[0]", "expected an object, got a list"]),
    ("auc missing", _mutated(_drop(["results", 1, "auc"])), ["results[1].auc", "missing"]),
    ("auc a string", _mutated(_set(["results", 0, "auc"], "high")), ["results[0].auc", "expected a number", "'high'"]),
    ("auc a bool", _mutated(_set(["results", 0, "auc"], True)), ["results[0].auc", "expected a number, got true"]),
    ("auc_ci a string", _mutated(_set(["results", 0, "auc_ci"], "0.5-0.6")), ["results[0].auc_ci", "interval"]),
    ("auc_ci end a string", _mutated(_set(["results", 0, "auc_ci"], [0.5, "x"])), ["results[0].auc_ci[1]", "expected a number"]),
    ("target a number", _mutated(_set(["results", 0, "target"], 7)), ["results[0].target", "expected a name"]),
    ("tpr_at_fpr a list", _mutated(_set(["results", 0, "tpr_at_fpr"], [0.1])), ["results[0].tpr_at_fpr", "expected an object"]),
    ("tpr a string", _mutated(_set(["results", 0, "tpr_at_fpr", "0.01", "tpr"], "2%")), ["results[0].tpr_at_fpr['0.01'].tpr", "expected a number"]),
    ("fpr key not a number", _mutated(_set(["results", 0, "tpr_at_fpr"], {"low": {"tpr": 0.1}})), ["results[0].tpr_at_fpr['low']", "target FPR"]),
    ("epsilon entry a list", _mutated(_set(["results", 0, "epsilon_lower_bound"], [1])), ["results[0].epsilon_lower_bound", "expected an object"]),
    ("epsilon a string", _mutated(_set(["results", 0, "epsilon_lower_bound", "epsilon_lb"], "3.2")), ["results[0].epsilon_lower_bound.epsilon_lb", "expected a number"]),
    ("targets an object", _mutated(_set(["targets"], {"name": "m"})), ["targets", "expected a list"]),
    ("target entry a string", _mutated(_set(["targets"], ["model"])), ["targets[0]", "expected an object"]),
    ("data a list", _mutated(_set(["data"], [1000])), ["report.data", "expected an object"]),
    ("member count a string", _mutated(_set(["data", "n_members"], "many")), ["data.n_members", "expected a number"]),
    ("verdict a number", _mutated(_set(["verdicts", "model"], 1)), ["verdicts['model']", "expected a sentence"]),
    ("run.reference entry a list", _mutated(_set(["run", "reference"], {"model": [1]})), ["run.reference['model']", "expected an object"]),
]


def _prepare(tmp_path: Path, content) -> Path:
    if isinstance(content, (str, bytes)):
        return _write(tmp_path, text=content)
    return _write(tmp_path, content)


@pytest.mark.parametrize("command", [["gate", "{report}", "--max-auc", "0.9", "--max-epsilon-lb", "5"], ["model-card", "{report}"]],
                         ids=["gate", "model-card"])
@pytest.mark.parametrize("case,content,names", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_report_is_one_line_exit_2(tmp_path, command, case, content, names):
    path = _prepare(tmp_path, content)
    outcome = run_cli([part.format(report=path) for part in command])
    assert_one_line_error(outcome, code=2, names=[str(path), *names])
    assert outcome.out == ""


@pytest.mark.parametrize("command", [["gate", "{folder}", "--max-auc", "0.9"], ["model-card", "{folder}"]], ids=["gate", "model-card"])
def test_folder_without_report_json(tmp_path, command):
    (tmp_path / "scores.csv").write_text("a\n1\n")
    outcome = run_cli([part.format(folder=tmp_path) for part in command])
    assert_one_line_error(outcome, code=2, names=[str(tmp_path / "report.json"), "report not found", "the folder holding it"])


@pytest.mark.parametrize("args,option", [
    (["--max-auc", "nan"], "--max-auc"),
    (["--max-auc", "NaN"], "--max-auc"),
    (["--max-epsilon-lb", "nan"], "--max-epsilon-lb"),
    (["--max-epsilon-lb", "inf"], "--max-epsilon-lb"),
    (["--max-tpr-at-fpr", "0.01:nan"], "--max-tpr-at-fpr"),
    (["--max-tpr-at-fpr", "nan:0.1"], "--max-tpr-at-fpr"),
])
def test_bars_that_are_not_finite_numbers_are_usage_errors(tmp_path, args, option):
    path = _write(tmp_path, _report())
    outcome = run_cli(["gate", str(path), *args])
    assert_one_line_error(outcome, code=2, names=[option])
    assert outcome.out == ""


@pytest.mark.parametrize("value", [math.nan, None], ids=["NaN", "null"])
@pytest.mark.parametrize("compare", ["estimate", "upper"])
def test_an_auc_that_is_not_a_number_fails_the_bar(tmp_path, value, compare):
    """Issue 12: a NaN AUC in a report let any bar pass; it now fails the bar (exit 1) and the line says why."""
    document = _report()
    document["results"][1]["auc"] = value
    document["results"][1]["auc_ci"] = [value, value]
    path = _write(tmp_path, document)
    outcome = run_cli(["gate", str(path), "--max-auc", "0.99", "--compare", compare])
    assert outcome.escaped is None and outcome.code == 1, outcome
    line = next(line for line in outcome.out.splitlines() if line.startswith("EXCEEDED"))
    assert "not a number in the report" in line and "model/entropy" in line


def test_a_nan_tpr_or_epsilon_fails_its_bar(tmp_path):
    document = _report()
    document["results"][0]["tpr_at_fpr"]["0.01"]["tpr"] = math.nan
    document["results"][1]["epsilon_lower_bound"]["epsilon_lb"] = None
    path = _write(tmp_path, document)
    outcome = run_cli(["gate", str(path), "--max-tpr-at-fpr", "0.01:0.5", "--max-epsilon-lb", "9"])
    assert outcome.escaped is None and outcome.code == 1
    exceeded = [line for line in outcome.out.splitlines() if line.startswith("EXCEEDED")]
    assert len(exceeded) == 2 and all("not a number in the report" in line for line in exceeded)


def test_model_card_renders_figures_that_are_not_numbers_as_n_a(tmp_path):
    document = _report()
    document["results"][0]["auc"] = None
    document["results"][0]["auc_ci"] = None
    document["data"]["n_members"] = None
    path = _write(tmp_path, document)
    outcome = run_cli(["model-card", str(path)])
    assert outcome.escaped is None and outcome.code == 0, outcome
    assert "| model | loss | n/a [no interval]" in outcome.out


def test_uncorrected_one_run_bounds_are_not_maximised_over_attacks(tmp_path):
    """An older report's one-run bounds are valid one by one only: the gate refuses their maximum, allows one attack."""
    document = _report()
    for entry in document["results"]:
        entry["epsilon_lower_bound"].update(valid=True, label="lower bound", method="one_run", one_run={"m": 2000})
    path = _write(tmp_path, document)
    outcome = run_cli(["gate", str(path), "--max-epsilon-lb", "5"])
    assert_one_line_error(outcome, code=2, names=["--max-epsilon-lb", "corrected for 1 attack", "largest of 2", "--attack"])
    assert run_cli(["gate", str(path), "--max-epsilon-lb", "5", "--attack", "loss"]).code == 0
    for entry in document["results"]:
        entry["epsilon_lower_bound"].update(n_candidates=2, correction="Bonferroni over 8 guess sets × 2 attacks")
    _write(tmp_path, document)
    outcome = run_cli(["gate", str(path), "--max-epsilon-lb", "0.1"])
    assert outcome.code == 1 and "Bonferroni over 8 guess sets × 2 attacks" in outcome.out


def test_model_card_out_that_cannot_be_written(tmp_path):
    path = _write(tmp_path, _report())
    (tmp_path / "card.md").mkdir()
    outcome = run_cli(["model-card", str(path), "--out", str(tmp_path / "card.md")])
    assert outcome.escaped is None and outcome.code != 0
    errors = [line for line in outcome.error_lines if line.startswith("privaudit: error:")]
    assert len(errors) == 1 and str(tmp_path / "card.md") in errors[0]
