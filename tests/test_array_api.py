"""privaudit.audit_outputs on plain numpy arrays, AuditResult.verdict / .write_report, and privaudit.report after import privaudit."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import privaudit
from privaudit.exceptions import ConfigError, DataError
from privaudit.metrics import roc_auc


def _logits(n: int, boost: float, seed: int, n_classes: int = 3):
    """Logits whose true-class column is raised by ``boost`` (members get a larger boost: they are fit better)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    logits = rng.normal(size=(n, n_classes))
    logits[np.arange(n), labels] += boost
    return logits, labels


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def leaky():
    m, ym = _logits(400, 2.5, 1)
    n, yn = _logits(400, 0.5, 2)
    p, yp = _logits(400, 0.5, 3)
    return dict(members=m, nonmembers=n, labels_members=ym, labels_nonmembers=yn, population=p, labels_population=yp)


def test_audit_outputs_scores_match_the_arrays(leaky):
    result = privaudit.audit_outputs(**leaky, kind="logits", n_bootstrap=50)
    names = [r.attack for r in result.results]
    assert "classwise_threshold[loss]" in names and "threshold[loss]" in names  # default attacks, class-wise with a population
    # the loss attack's AUC equals the AUC of minus cross-entropy computed here from the arrays alone
    logits = np.concatenate([leaky["members"], leaky["nonmembers"]])
    labels = np.concatenate([leaky["labels_members"], leaky["labels_nonmembers"]])
    loss = -np.log(_softmax(logits)[np.arange(labels.size), labels])
    is_member = np.r_[np.ones(400, bool), np.zeros(400, bool)]
    loss_result = next(r for r in result.results if r.attack == "threshold[loss]")
    assert loss_result.metrics.auc == pytest.approx(roc_auc(-loss, is_member), abs=1e-9)
    assert list(result.record_ids[:2]) == ["m0", "m1"] and result.record_ids[400] == "n0"
    assert result.n_population == 400 and result.data_source == "audit_outputs"
    assert result.verdict["model"].startswith(("Clear", "Severe"))


def test_probabilities_give_the_same_audit_as_logits(leaky):
    probabilities = {k: (_softmax(v) if k in ("members", "nonmembers", "population") else v) for k, v in leaky.items()}
    from_logits = privaudit.audit_outputs(**leaky, kind="logits", n_bootstrap=50, attacks=["loss"])
    from_probs = privaudit.audit_outputs(**probabilities, n_bootstrap=50, attacks=["loss"])
    assert from_probs.results[0].metrics.auc == pytest.approx(from_logits.results[0].metrics.auc, abs=1e-9)


def test_without_population_no_classwise_attack_and_no_leak_on_a_null_model():
    m, ym = _logits(300, 1.0, 4)
    n, yn = _logits(300, 1.0, 5)
    result = privaudit.audit_outputs(members=m, nonmembers=n, labels_members=ym, labels_nonmembers=yn, kind="logits", n_bootstrap=50)
    assert not any(r.attack.startswith("classwise") for r in result.results)
    assert result.n_population == 0
    assert result.verdict["model"].startswith("No leakage detected")


def test_write_report_writes_json_html_csv(leaky, tmp_path):
    result = privaudit.audit_outputs(**leaky, kind="logits", n_bootstrap=50, name="net")
    paths = result.write_report(tmp_path / "report")
    assert set(paths) == {"json", "scores", "html", "claims"}
    document = json.loads(paths["json"].read_text())
    assert {r["target"] for r in document["results"]} == {"net"}
    assert len(paths["scores"].read_text().splitlines()) == 801  # header + one row per audited record
    assert "net" in paths["html"].read_text()
    with pytest.raises(privaudit.OutputError):  # same folder rules as the CLI: a folder privaudit did not make is refused
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "notes.txt").write_text("mine")
        result.write_report(tmp_path / "mine")


def _one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message.startswith("audit_outputs:")
    return message


@pytest.mark.parametrize(
    "change, exception, words",
    [
        (dict(members=np.zeros((5, 3))), DataError, "members has shape"),  # wrong rows vs labels: labels complain
        (dict(nonmembers=np.ones((400, 2))), DataError, "nonmembers has 2 columns"),
        (dict(members=np.ones(400)), DataError, "members has shape (400,)"),
        (dict(labels_members=np.full(400, 3)), DataError, "labels outside 0..2"),
        (dict(labels_nonmembers=np.full(400, 0.5)), DataError, "integer class indices"),
        (dict(labels_population=None), ConfigError, "together"),
        (dict(kind="scores"), ConfigError, "kind must be"),
    ],
)
def test_bad_arrays_get_one_line_naming_the_argument(leaky, change, exception, words):
    arguments = {"kind": "logits", **leaky, **change}
    with pytest.raises(exception) as excinfo:
        privaudit.audit_outputs(**arguments)
    message = _one_line(excinfo)
    if words == "members has shape":
        assert "labels_members has shape (400,) but members has 5 rows" in message
    else:
        assert words in message, message


def test_nan_and_unnormalised_probabilities_are_refused(leaky):
    members = leaky["members"].copy()
    members[7, 1] = np.nan
    with pytest.raises(DataError) as excinfo:
        privaudit.audit_outputs(**{**leaky, "members": members}, kind="logits")
    assert "members row 7 has NaN" in _one_line(excinfo)
    with pytest.raises(DataError) as excinfo:  # logits passed as probabilities
        privaudit.audit_outputs(**leaky)
    assert "kind='logits'" in _one_line(excinfo)


def test_report_submodule_after_plain_import():
    """`privaudit.report.print_summary` works after a bare `import privaudit`, which still imports no report module or heavy dependency."""
    code = (
        "import sys, privaudit\n"
        "print('privaudit.report' in sys.modules, any(m in sys.modules for m in ('torch', 'httpx', 'ray', 'transformers')))\n"
        "print(callable(privaudit.report.print_summary), 'privaudit.report' in sys.modules)\n"
        "try:\n    privaudit.no_such_thing\nexcept AttributeError as exc:\n    print(type(exc).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True", "True", "AttributeError"]


@pytest.mark.parametrize(
    "attack, words",
    [
        ("rmia", "needs reference models, which audit_outputs cannot train"),
        ("shadow_model", "needs reference models, which audit_outputs cannot train"),
        ("label_only_boundary", "queries the model on perturbed copies"),
        ("classwise_threshold", "pass population= and labels_population="),
        ("qmia", "regresses each record's score on its features, which arrays of outputs do not carry"),
    ],
)
def test_an_attack_arrays_cannot_serve_is_refused_with_the_arguments_not_a_config_block(leaky, attack, words):
    """The fix names audit_outputs' own arguments (or privaudit.audit), never a config 'reference' block or membership column."""
    arguments = {k: v for k, v in leaky.items() if k not in ("population", "labels_population")}
    with pytest.raises(privaudit.exceptions.PrivauditError) as excinfo:
        privaudit.audit_outputs(**arguments, kind="logits", attacks=[attack], n_bootstrap=50)
    message = _one_line(excinfo)
    assert words in message and "block" not in message and "membership column" not in message, message


def test_write_report_into_a_users_folder_names_the_python_argument(leaky, tmp_path):
    """From Python the fix is force=True, not only the CLI's --force; the user's file is left alone."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes")
    result = privaudit.audit_outputs(**leaky, kind="logits", attacks=["loss"], n_bootstrap=50)
    with pytest.raises(privaudit.exceptions.OutputError) as caught:
        result.write_report(folder)
    assert "force=True" in str(caught.value) and "\n" not in str(caught.value)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_best_of_an_unknown_target_names_the_targets_there(leaky):
    result = privaudit.audit_outputs(**leaky, kind="logits", attacks=["loss"], n_bootstrap=50, name="mine")
    assert result.best("mine").attack == "threshold[loss]"
    with pytest.raises(privaudit.exceptions.UnknownNameError) as caught:
        result.best("model")
    assert str(caught.value) == "no target 'model' in this result; targets: mine"


def test_a_target_no_better_than_the_majority_class_on_its_members_gets_a_check_the_inputs_warning():
    """A model that names its members' most common class no more often than that class occurs (inputs scaled wrongly,
    columns swapped): the "no leakage" verdict and the report notes say to check the inputs; a model that fits its
    members does not get the warning."""
    from privaudit.report.verdict import report_notes, untrained_input_sentence

    rng = np.random.default_rng(5)
    n = 400
    labels_m, labels_n = (rng.random(n) < 0.7).astype(int), (rng.random(n) < 0.7).astype(int)
    # every record gets the same near-constant answer favouring class 0, whatever it is: 30 % accuracy, majority class 70 %
    constant = np.tile([0.0, -0.5], (n, 1)) + rng.normal(0.0, 0.01, (n, 2))
    broken = privaudit.audit_outputs(members=constant, nonmembers=constant.copy(), labels_members=labels_m,
                                     labels_nonmembers=labels_n, kind="logits", n_bootstrap=50)
    (target,) = [t.name for t in broken.targets]
    sentence = untrained_input_sentence(broken, target)
    from privaudit.report.formatting import percent

    assert sentence is not None and sentence.startswith("Check the inputs") and f"({percent(max(labels_m.mean(), 1 - labels_m.mean()))}, 400 members" in sentence
    assert broken.verdict[target].startswith("No leakage detected") and sentence in broken.verdict[target] and sentence in report_notes(broken)
    m, ym = _logits(n, 2.5, 1)
    fitted = privaudit.audit_outputs(members=m, nonmembers=_logits(n, 0.5, 2)[0], labels_members=ym,
                                     labels_nonmembers=_logits(n, 0.5, 2)[1], kind="logits", n_bootstrap=50)
    assert untrained_input_sentence(fitted, fitted.targets[0].name) is None
    assert not any(note.startswith("Check the inputs") for note in report_notes(fitted))
