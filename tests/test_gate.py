"""ε in reports, `privaudit gate` and `privaudit model-card`: exit codes, one-line errors, what is printed."""

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
from privaudit.config import parse_config
from privaudit.exceptions import ConfigError
from privaudit.gate import Bar, check_report, load_report, parse_tpr_bar
from privaudit.report.model_card import model_card_section

N = 1800


def _write_audit(folder: Path, split: np.ndarray, *, randomized: bool, delta: float = 1e-5) -> Path:
    """Records, a precomputed target whose outputs leak membership, and a config; returns the config path."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, N)
    member = split == "member"
    # the model is more confident on the true class of its members
    logit = rng.normal(0.5, 1.0, N) + 1.2 * member
    p_true = 1 / (1 + np.exp(-logit))
    p1 = np.where(labels == 1, p_true, 1 - p_true)
    pd.DataFrame({"record_id": np.arange(N), "x": rng.normal(size=N), "label": labels, "split": split}).to_csv(folder / "records.csv", index=False)
    pd.DataFrame({"record_id": np.arange(N), "0": 1 - p1, "1": p1}).to_csv(folder / "outputs.csv", index=False)
    config = {
        "seed": 0,
        "data": {"path": "records.csv", "label": "label", "id_column": "record_id", "membership": {"column": "split", "randomized": randomized}},
        "targets": [{"name": "vendor", "type": "precomputed", "path": "outputs.csv", "outputs": "probabilities"}],
        "attacks": ["loss", "entropy"],
        "metrics": {"bootstrap": 100, "fprs": [0.1, 0.01, 0.001], "delta": delta},
        "output": "report",
    }
    path = folder / "audit.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict:
    """Two audited folders: a fixed 600/1,200 split, and a coin-flip split declared randomized."""
    from privaudit.pipeline import run_audit
    from privaudit.config import load_config
    from privaudit.report import write_report

    folders = {}
    fixed = np.array(["member"] * 600 + ["nonmember"] * 1200)
    coins = np.where(np.random.default_rng(5).random(N) < 0.5, "member", "nonmember")
    for name, split, randomized, delta in (("plain", fixed, False, 1e-5), ("randomized", coins, True, 1e-4)):
        folder = tmp_path_factory.mktemp(name)
        config, base = load_config(_write_audit(folder, split, randomized=randomized, delta=delta))
        result = run_audit(config, base)
        write_report(result, folder / "report")
        folders[name] = {"folder": folder / "report", "result": result,
                         "json": json.loads((folder / "report" / "report.json").read_text(encoding="utf-8"))}
    return folders


def gate(*args: str, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["gate", *args])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


# ---------------------------------------------------------------- ε in the reports


def test_report_json_carries_the_epsilon_entry_and_its_label(reports):
    plain, randomized = reports["plain"]["json"], reports["randomized"]["json"]
    assert plain["data"]["membership_randomized"] is False and randomized["data"]["membership_randomized"] is True
    for entry, result in zip(plain["results"], reports["plain"]["result"].results):
        eps = entry["epsilon_lower_bound"]
        assert (eps["label"], eps["valid"], eps["method"], eps["delta"]) == ("heuristic estimate", False, "roc_split", 1e-5)
        assert eps["epsilon_lb"] == pytest.approx(result.metrics.epsilon_lower_bound.epsilon_lb) and eps["epsilon_lb"] > 0
        assert eps["roc"]["n_members"] + eps["roc"]["n_members_selection"] == entry["n_members"] == 600
        assert eps["one_run"] is None
    for entry in randomized["results"]:
        eps = entry["epsilon_lower_bound"]
        assert (eps["label"], eps["valid"], eps["method"], eps["delta"]) == ("lower bound", True, "one_run", 1e-4)
        assert eps["epsilon_lb"] == eps["one_run"]["epsilon_lb"] > 0 and eps["one_run"]["m"] == N


def test_html_and_terminal_show_epsilon_only_where_it_is_a_bound(reports):
    """Issue 12 scope 8: the heuristic ε of a non-randomised audit is in report.json only; the one-run bound is shown."""
    from rich.console import Console

    from privaudit.report import print_summary

    page = (reports["plain"]["folder"] / "report.html").read_text(encoding="utf-8")
    assert "<th>ε lower bound</th>" not in page and '<td class="epsilon">' not in page
    assert "heuristic estimate, not a lower bound; it is in report.json" in page
    valid_page = (reports["randomized"]["folder"] / "report.html").read_text(encoding="utf-8")
    assert "<th>ε lower bound</th>" in valid_page
    assert valid_page.count('<td class="epsilon">') == len(reports["randomized"]["json"]["results"])
    assert "Steinke" in valid_page and "not a proven lower bound" not in valid_page
    console = Console(width=200, record=True)
    print_summary(reports["plain"]["result"], console=console)
    text = console.export_text()
    assert "ε lb" not in text and "in report.json" in text
    console = Console(width=200, record=True)
    print_summary(reports["randomized"]["result"], console=console)
    text = console.export_text()
    assert "ε lb" in text and "bound" in text
    first = reports["randomized"]["result"].results[0].metrics.epsilon_lower_bound.epsilon_lb
    assert f"{first:.2f}" in text


def test_config_keys_for_delta_and_randomized_membership():
    base = {"data": {"path": "r.csv", "label": "y", "membership": {"column": "split"}},
            "targets": [{"name": "t", "type": "precomputed", "path": "o.csv"}]}
    config = parse_config(base)
    assert config.metrics.delta == 1e-5 and config.data.membership.randomized is False
    with pytest.raises(ConfigError, match=r"metrics\.delta"):
        parse_config({**base, "metrics": {"delta": 0.5}})
    with pytest.raises(ConfigError, match=r"data\.membership\.randomized"):
        parse_config({**base, "data": {**base["data"], "membership": {"column": "split", "randomized": "maybe"}}})


def test_randomized_flag_on_an_uneven_split_is_a_one_line_error(tmp_path, capsys):
    split = np.array(["member"] * 300 + ["nonmember"] * 1500)
    config = _write_audit(tmp_path, split, randomized=True)
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", str(config), "--quiet"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("privaudit: error: ") and err.count("\n") == 1
    assert "300 members among 1,800" in err and "randomized: false" in err


# ---------------------------------------------------------------- gate


def _worst(document: dict, key) -> dict:
    return max(document["results"], key=key)


def test_gate_passes_with_generous_bars(reports, capsys):
    code, out, _ = gate(str(reports["plain"]["folder"]), "--max-auc", "0.99", "--max-tpr-at-fpr", "0.01:0.99", "--max-epsilon-lb", "50", capsys=capsys)
    assert code == 0
    assert out.count("ok ") == 3 and "0 of 3 bars exceeded" in out


def test_gate_names_each_exceeded_bar_with_value_ci_and_attack(reports, capsys):
    document = reports["plain"]["json"]
    worst = _worst(document, lambda r: r["auc"])
    bar = round(worst["auc"] - 0.01, 3)
    eps = _worst(document, lambda r: r["epsilon_lower_bound"]["epsilon_lb"])["epsilon_lower_bound"]["epsilon_lb"]
    code, out, err = gate(str(reports["plain"]["folder"] / "report.json"), "--max-auc", str(bar), "--max-epsilon-lb", f"{eps / 2:.3f}",
                          "--max-tpr-at-fpr", "0.1:1", capsys=capsys)
    assert code == 1, err
    lines = out.splitlines()
    auc_line = next(line for line in lines if "--max-auc" in line)
    assert auc_line.startswith("EXCEEDED")
    assert f"AUC ≤ {bar:g}" in auc_line and f"AUC {worst['auc']:.3f}" in auc_line
    assert f"{worst['auc_ci'][0]:.3f}–{worst['auc_ci'][1]:.3f}" in auc_line
    assert auc_line.endswith(f"{worst['target']}/{worst['attack']}")
    eps_line = next(line for line in lines if "--max-epsilon-lb" in line)
    assert eps_line.startswith("EXCEEDED") and "heuristic estimate" in eps_line and f"{eps:.2f}" in eps_line
    assert next(line for line in lines if "--max-tpr-at-fpr" in line).startswith("ok")
    assert "2 of 3 bars exceeded" in lines[-1]


def test_gate_takes_the_worst_attack_unless_one_is_named(reports, capsys):
    document = reports["plain"]["json"]
    aucs = sorted((r["auc"], r["attack"]) for r in document["results"])
    (low, weak), (high, strong) = aucs[0], aucs[-1]
    assert high - low > 0.002, aucs  # the fixture's two attacks differ
    bar = f"{(low + high) / 2:.6f}"
    folder = str(reports["plain"]["folder"])
    assert gate(folder, "--max-auc", bar, capsys=capsys)[0] == 1
    assert gate(folder, "--max-auc", bar, "--attack", weak, capsys=capsys)[0] == 0
    code, out, _ = gate(folder, "--max-auc", bar, "--attack", f"vendor/{strong}", capsys=capsys)
    assert code == 1 and strong in out


def test_gate_compares_the_estimate_by_default_and_the_upper_end_on_request(reports, capsys):
    worst = _worst(reports["plain"]["json"], lambda r: r["auc"])
    bar = f"{(worst['auc'] + worst['auc_ci'][1]) / 2:.6f}"
    folder = str(reports["plain"]["folder"])
    assert gate(folder, "--max-auc", bar, capsys=capsys)[0] == 0
    code, out, _ = gate(folder, "--max-auc", bar, "--compare", "upper", capsys=capsys)
    assert code == 1 and "upper end" in out


@pytest.mark.parametrize(("args", "needle"), [
    (["--max-tpr-at-fpr", "0.005:0.1"], "FPR 0.005 is not in"),
    (["--max-tpr-at-fpr", "0.001:0.1"], "cannot support a TPR at 0.1% FPR"),
    (["--max-tpr-at-fpr", "0.01"], "expected FPR:TPR"),
    (["--max-tpr-at-fpr", "2:0.1"], "FPR must lie in (0, 1)"),
    (["--max-auc", "1.5"], "--max-auc"),
    ([], "give at least one bar"),
    (["--max-auc", "0.9", "--attack", "nope"], "--attack 'nope'"),
])
def test_gate_user_mistakes_exit_2_with_one_line(reports, capsys, args, needle):
    code, out, err = gate(str(reports["plain"]["folder"]), *args, capsys=capsys)
    assert code == 2 and out == ""
    assert err.startswith("privaudit: error: ") and err.count("\n") == 1
    assert needle in err


def test_gate_missing_or_broken_report(tmp_path, capsys):
    code, _, err = gate(str(tmp_path / "nowhere"), "--max-auc", "0.6", capsys=capsys)
    assert code == 2 and f"{tmp_path / 'nowhere'}: report not found" in err
    (tmp_path / "report.json").write_text("{not json")
    code, _, err = gate(str(tmp_path), "--max-auc", "0.6", capsys=capsys)
    assert code == 2 and "not a valid JSON report" in err and str(tmp_path / "report.json") in err


def test_gate_exit_code_from_the_real_console_script(reports):
    worst = _worst(reports["plain"]["json"], lambda r: r["auc"])
    completed = subprocess.run([sys.executable, "-c", "from privaudit.cli import main; main()", "gate", str(reports["plain"]["folder"]),
                                "--max-auc", f"{worst['auc'] - 0.01:.3f}"], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 1 and "EXCEEDED" in completed.stdout


def test_gate_library_checks_and_parsing(reports):
    document = reports["randomized"]["json"]
    checks = check_report(document, [Bar("epsilon_lb", 0.0), parse_tpr_bar("0.1:1")])
    assert checks[0].exceeded and checks[0].detail.startswith("lower bound")
    assert checks[0].value == max(r["epsilon_lower_bound"]["epsilon_lb"] for r in document["results"])
    assert not checks[1].exceeded
    with pytest.raises(ConfigError):
        Bar("tpr_at_fpr", 0.1)
    assert load_report(reports["randomized"]["folder"])[1].name == "report.json"


# ---------------------------------------------------------------- model card


def test_model_card_section_has_the_hugging_face_layout_and_the_figures(reports):
    document = reports["plain"]["json"]
    text = model_card_section(document, source="report.json")
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == ["## Privacy", "### Defences", "### Measured membership leakage", "### Attacks and data", "### What these figures do not cover"]
    assert "* **vendor**: none recorded." in text
    for entry in document["results"]:
        row = next(line for line in text.splitlines() if line.startswith(f"| vendor | {entry['attack']} |"))
        assert f"{entry['auc']:.3f} [{entry['auc_ci'][0]:.3f}, {entry['auc_ci'][1]:.3f}]" in row
        assert f"{entry['epsilon_lower_bound']['epsilon_lb']:.2f} (heuristic estimate)" in row
    assert "TPR at 1% FPR" in text and "TPR at 0.1% FPR" not in text  # 1,200 non-members cannot support 0.1 %
    assert "600 members, 1,200 non-members" in text and "*heuristic estimate*" in text
    assert "not proof that the model is private" in text


def test_model_card_prints_recorded_defences_and_the_valid_label(reports):
    document = json.loads(json.dumps(reports["randomized"]["json"]))
    document["run"]["config"]["targets"][0]["output_defence"] = {"top_k": 1, "round": None, "temperature": None, "labels_only": False}
    document["defences"] = {"vendor": {"dp": {"epsilon": 8.0, "delta": 1e-5, "accountant": "rdp"}}}
    text = model_card_section(document)
    line = next(line for line in text.splitlines() if line.startswith("* **vendor**:"))
    assert "output defence: top_k 1" in line and "dp (epsilon 8, delta 1e-05, accountant rdp)" in line
    assert "round" not in line
    assert "valid lower bound" in text and "membership randomised by coin flips: yes" in text


def test_model_card_command_prints_or_writes(reports, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["model-card", str(reports["plain"]["folder"])])
    printed = capsys.readouterr().out
    assert exit_info.value.code in (0, None) and printed.startswith("## Privacy")
    out = tmp_path / "card" / "privacy.md"
    with pytest.raises(SystemExit) as exit_info:
        main(["model-card", str(reports["plain"]["folder"]), "--out", str(out)])
    assert exit_info.value.code in (0, None) and str(out) in capsys.readouterr().out
    assert out.read_text(encoding="utf-8").split("-->", 1)[1] == printed.split("-->", 1)[1]
    with pytest.raises(SystemExit) as exit_info:
        main(["model-card", str(tmp_path / "missing")])
    assert exit_info.value.code == 2 and "report not found" in capsys.readouterr().err


def test_readme_workflow_runs_gate_and_model_card_commands_that_parse(reports, capsys, tmp_path):
    """The GitHub Actions example in README.md is valid YAML and its privaudit gate/model-card lines run (0 or 1, never a usage error)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = next(b.split("\n", 1)[1] for b in readme.split("```yaml")[1:] if "jobs:" in b.split("```")[0]).split("```")[0]
    workflow = yaml.safe_load(block)
    runs = [step["run"] for step in workflow["jobs"]["audit"]["steps"] if "run" in step]
    assert any(r.startswith("privaudit audit ") for r in runs)
    commands = [r.split() for r in runs if r.startswith(("privaudit gate ", "privaudit model-card "))]
    assert [c[1] for c in commands] == ["gate", "model-card"]
    for command in commands:
        args = [str(reports["plain"]["folder"]) if a == "privaudit-report" else a for a in command[1:]]
        args = [str(tmp_path / "privacy.md") if a.endswith("privacy.md") else a for a in args]
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code in (0, 1, None), capsys.readouterr().err
    assert (tmp_path / "privacy.md").read_text(encoding="utf-8").startswith("## Privacy")


# ---------------------------------------------------------------- issue 12: ε after selection, bars that are not numbers


def test_report_json_records_the_correction_over_attacks_and_the_heuristic_region(reports, capsys):
    """The randomised audit ran 2 attacks: each one-run bound is corrected for both; the heuristic is read at FPR ≤ 0.1."""
    for entry in reports["randomized"]["json"]["results"]:
        eps = entry["epsilon_lower_bound"]
        assert eps["n_candidates"] == eps["one_run"]["n_candidates"] == 2
        assert eps["one_run"]["significance"] == pytest.approx(0.05 / (2 * eps["one_run"]["n_guess_sets"]))
        assert "× 2 attacks" in eps["correction"]
    for entry in reports["plain"]["json"]["results"]:
        roc = entry["epsilon_lower_bound"]["roc"]
        assert roc["max_fpr"] == 0.1 and roc["direction"] == "fpr" and roc["fpr"] <= 0.15
    code, out, _ = gate(str(reports["randomized"]["folder"]), "--max-epsilon-lb", "0", capsys=capsys)
    line = next(line for line in out.splitlines() if "--max-epsilon-lb" in line)
    assert code == 1 and "Bonferroni over" in line and "× 2 attacks" in line


@pytest.mark.parametrize("metric,limit", [("auc", float("nan")), ("epsilon_lb", float("inf")), ("auc", float("-inf"))])
def test_bars_must_be_finite(metric, limit):
    with pytest.raises(ConfigError, match="finite number"):
        Bar(metric, limit)
    with pytest.raises(ConfigError, match="finite number"):
        Bar("tpr_at_fpr", limit, 0.01)


def test_a_nan_figure_is_the_worst_and_fails(reports):
    document = json.loads(json.dumps(reports["plain"]["json"]))
    document["results"][-1]["auc"] = float("nan")
    (check,) = check_report(document, [Bar("auc", 0.99)])
    assert check.exceeded and check.attack == document["results"][-1]["attack"] and "not a number" in check.detail
