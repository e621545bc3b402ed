"""Attack names resolve the same way everywhere: exact display name, or a short name matching one variant (gate, check)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import privaudit
from privaudit.attacks.names import resolve_attack_name, short_names
from privaudit.cli import main
from privaudit.exceptions import ConfigError, UnknownNameError
from privaudit.gate import Bar, check_report
from privaudit.report import report_dict

AVAILABLE = ["threshold[loss]", "classwise_threshold[loss]", "rmia[online,confidence]", "lira[online,logit_confidence]",
             "lira[offline,logit_confidence]"]


def test_exact_and_short_names():
    assert resolve_attack_name("rmia[online,confidence]", AVAILABLE) == "rmia[online,confidence]"
    assert resolve_attack_name("rmia", AVAILABLE) == "rmia[online,confidence]"
    assert resolve_attack_name("loss", AVAILABLE) == "threshold[loss]"  # a signal alone means its threshold attack, as in a config
    assert resolve_attack_name("classwise_threshold", AVAILABLE) == "classwise_threshold[loss]"
    assert short_names("reference_calibrated_loss[offline,difference,loss]") == ("reference_calibrated_loss",)


def test_ambiguous_and_unknown_names_list_the_variants():
    with pytest.raises(UnknownNameError) as excinfo:
        resolve_attack_name("lira", AVAILABLE)
    message = str(excinfo.value)
    assert "matches 2 attacks" in message and "lira[online,logit_confidence], lira[offline,logit_confidence]" in message
    assert "\n" not in message
    with pytest.raises(UnknownNameError, match=r"no such attack in the report; attacks there: classwise_threshold\[loss\]"):
        resolve_attack_name("rmia[offline,confidence]", AVAILABLE)
    with pytest.raises(UnknownNameError):
        resolve_attack_name("threshold", ["threshold[loss]", "threshold[entropy]"])


@pytest.fixture(scope="module")
def audited():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 1200)
    logits = rng.normal(size=(1200, 2))
    logits[np.arange(1200), labels] += np.r_[np.full(600, 2.0), np.full(600, 0.5)]
    return privaudit.audit_outputs(members=logits[:600], nonmembers=logits[600:], labels_members=labels[:600],
                                   labels_nonmembers=labels[600:], kind="logits", attacks=["loss", "entropy"], n_bootstrap=50)


def _renamed(document: dict, names: list[str]) -> dict:
    document = copy.deepcopy(document)
    for entry, name in zip(document["results"], names, strict=True):
        entry["attack"] = name
    return document


def test_gate_short_name_picks_the_one_variant(audited):
    document = _renamed(report_dict(audited), ["threshold[loss]", "rmia[online,confidence]"])
    rmia = next(r for r in document["results"] if r["attack"].startswith("rmia"))
    checks = check_report(document, [Bar("auc", 0.99)], attack="rmia")
    assert [(c.attack, c.value) for c in checks] == [("rmia[online,confidence]", rmia["auc"])]
    assert [c.attack for c in check_report(document, [Bar("auc", 0.99)], attack="model/rmia")] == ["rmia[online,confidence]"]
    assert [c.attack for c in check_report(document, [Bar("auc", 0.99)], attack="rmia[online,confidence]")] == ["rmia[online,confidence]"]


def test_gate_short_name_with_several_variants_is_refused(audited):
    document = _renamed(report_dict(audited), ["rmia[offline,confidence]", "rmia[online,confidence]"])
    with pytest.raises(ConfigError, match=r"--attack 'rmia' matches 2 attacks .*rmia\[offline,confidence\], rmia\[online,confidence\]"):
        check_report(document, [Bar("auc", 0.99)], attack="rmia")


def test_gate_cli_takes_a_short_name(audited, tmp_path, capsys):
    folder = tmp_path / "report"
    audited.write_report(folder)
    with pytest.raises(SystemExit) as exit_info:
        main(["gate", str(folder), "--max-auc", "0.99", "--attack", "loss"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "model/threshold[loss]" in out and "entropy" not in out
    with pytest.raises(SystemExit) as exit_info:
        main(["gate", str(folder), "--max-auc", "0.99", "--attack", "rmia"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert "attacks there: threshold[entropy], threshold[loss]" in err


def test_check_takes_a_display_name_from_a_report():
    import pandas as pd

    from privaudit import AuditData, PrecomputedTarget, RecordSet, check_records

    rng = np.random.default_rng(1)
    n = 300
    ids = np.array([f"r{i}" for i in range(n)])
    p = rng.dirichlet([2.0, 2.0], size=n)
    records = RecordSet(ids, pd.DataFrame(index=range(n)), rng.integers(0, 2, n), (0, 1))
    data = AuditData(records, np.arange(100), np.arange(100, 200), np.arange(200, 300))
    target = PrecomputedTarget(pd.DataFrame({"record_id": ids, "0": p[:, 0], "1": p[:, 1]}), name="vendor")
    checked = records.subset(np.arange(3))
    result = check_records(target, data, checked, attack="classwise_threshold[loss]")
    assert result.attack == "classwise_threshold[loss]"
    with pytest.raises(ConfigError, match=r"use mode: offline"):  # built as named, then refused as check refuses online mode
        check_records(target, data, checked, attack="rmia[online,confidence]")
    with pytest.raises(ConfigError, match=r"attack 'rmia\[sideways,confidence\]': no such attack .*rmia\[offline,confidence\]"):
        check_records(target, data, checked, attack="rmia[sideways,confidence]")


def test_every_standard_display_name_builds_its_attack():
    from privaudit.attacks import build_attack
    from privaudit.attacks.names import standard_variants

    variants = standard_variants()
    assert {"threshold[loss]", "classwise_threshold[loss]", "lira[offline,logit_confidence]", "rmia[online,confidence]",
            "reference_calibrated_loss[offline,difference,loss]"} <= set(variants)
    for name in variants:
        attack = build_attack(name)
        assert attack.display_name == name and attack is not variants[name]


def test_configs_and_sweeps_take_display_names():
    from privaudit.config import parse_config
    from privaudit.sweep.settings import attack_specs

    raw = {"data": {"path": "d.csv", "label": "y", "membership": {"column": "m"}},
           "targets": [{"name": "t", "type": "precomputed", "path": "o.csv"}],
           "attacks": ["rmia[offline,confidence]", "classwise_threshold[loss]"]}
    assert parse_config(raw, "audit.yaml").attacks == ["rmia[offline,confidence]", "classwise_threshold[loss]"]
    with pytest.raises(ConfigError, match=r"rmia\[sideways\]"):
        parse_config({**raw, "attacks": ["rmia[sideways]"]}, "audit.yaml")

    class Sweep:  # the two fields attack_specs reads
        attacks = ["classwise_threshold[loss]", "loss"]
        reference = None

    assert attack_specs(Sweep, "probabilities") == (["classwise_threshold[loss]", "loss"], [])


def test_check_attack_names_resolve_against_the_configs_attacks():
    """`check --attack rmia` uses the config's one RMIA entry (its parameters, run offline); two entries are one line listing them."""
    from privaudit.attacks.names import configured_attack
    from privaudit.exceptions import UnknownNameError

    configured = ["loss", {"name": "rmia", "mode": "online", "gamma": 2.0}]
    assert configured_attack("rmia", configured) == {"name": "rmia", "gamma": 2.0}
    assert configured_attack("loss", configured) == {"name": "threshold", "signal": "loss"}
    assert configured_attack("lira", configured) == "lira"  # not in the config: the name as given
    assert configured_attack("rmia", None) == "rmia"
    two = [{"name": "rmia", "signal": "confidence"}, {"name": "rmia", "signal": "logit_confidence"}]
    with pytest.raises(UnknownNameError, match="matches 2 attacks in the config's attacks"):
        configured_attack("rmia", two)
    assert configured_attack("rmia[online,logit_confidence]", two) == {"name": "rmia", "signal": "logit_confidence"}



@pytest.mark.parametrize("name, display", [("loss", "threshold[loss]"), ("threshold[loss]", "threshold[loss]"),
                                           ("rmia", "rmia[offline,confidence]"), ("lira", "lira[offline,logit_confidence]")])
def test_check_attack_from_a_config_listing_attacks_as_strings_builds(name, display):
    """Regression: `check --attack loss` on a config with `attacks: [loss, ...]` said "unknown attack 'loss'"."""
    from privaudit.attacks import build_attack
    from privaudit.attacks.names import configured_attack

    spec = configured_attack(name, ["loss", "lira", "rmia[online,confidence]"])
    assert not isinstance(spec, dict) or "mode" not in spec  # check picks the mode (offline)
    spec = {"mode": "offline", **spec} if isinstance(spec, dict) and spec["name"] != "threshold" else spec
    assert build_attack(spec).display_name == display
