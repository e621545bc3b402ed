"""Audits with reference models, wired from config and CLI to the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from privaudit.config import load_config, parse_config, with_reference_overrides
from privaudit.exceptions import CapabilityError, ConfigError

from audit_folders import FEATURES, tree_config, write_split_records  # noqa: E402  (tests/ helper)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Synthetic records, an overfit decision tree saved with skops, and a config without reference models."""
    import skops.io as sio
    from sklearn.tree import DecisionTreeClassifier

    folder = tmp_path_factory.mktemp("reference")
    members = write_split_records(folder, 300)
    tree = DecisionTreeClassifier(min_samples_leaf=1, random_state=0).fit(members[FEATURES], members.label)
    sio.dump(tree, folder / "tree.skops")
    config = tree_config({"name": "tree", "path": "tree.skops"})
    (folder / "audit.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from privaudit.cli import main; main()", *args], capture_output=True, text=True, timeout=600)


def test_reference_models_flag_adds_lira_and_rmia_and_reuses_the_cache(folder):
    first = run_cli("audit", str(folder / "audit.yaml"), "--reference-models", "4", "--out", str(folder / "r1"), "--quiet")
    assert first.returncode == 0, first.stderr
    report = json.loads((folder / "r1" / "report.json").read_text())
    attacks = {r["attack"]: r for r in report["results"]}
    # 4 models = 2 per side, below PER_EXAMPLE_MIN_MODELS: LiRA's default (variance auto) ran with the global variance
    assert {"lira[online,global variance,logit_confidence]", "rmia[online,confidence]"} <= set(attacks)
    # an unregularised tree memorises its members: reference attacks must find them
    assert attacks["rmia[online,confidence]"]["auc"] > 0.6
    assert len(list((folder / "cache").iterdir())) >= 4

    second = run_cli("audit", str(folder / "audit.yaml"), "--reference-models", "4", "--out", str(folder / "r2"), "-q")
    assert second.returncode == 0, second.stderr
    again = {r["attack"]: r["auc"] for r in json.loads((folder / "r2" / "report.json").read_text())["results"]}
    assert again == {name: r["auc"] for name, r in attacks.items()}


def test_audit_reports_what_the_engine_did(folder):
    from privaudit.pipeline import run_audit

    config, base = load_config(folder / "audit.yaml")
    config = with_reference_overrides(config, models=2)
    result = run_audit(config, base)
    info = result.reference["tree"]
    assert info["n_models"] == 2 and info["mode"] == "online" and info["backend"] == "sequential"
    assert info["trained"] + info["reused"] == 2
    # sized like the target: 300 members; 300 population records are too few for offline models of that size
    assert info["train_size"] == 300 and info["choice"].startswith("online, at most 300 records per model (the target's 300 members), from 600 audited records; ")


def test_offline_mode_from_config(folder, tmp_path):
    from privaudit.pipeline import run_audit

    raw = yaml.safe_load((folder / "audit.yaml").read_text())
    raw["data"]["path"] = str(folder / "records.csv")
    raw["targets"][0]["path"] = str(folder / "tree.skops")
    raw["targets"][0]["reference"] = {"models": 3, "mode": "offline", "train_size": 150}
    raw["compute"]["store"] = str(tmp_path / "cache")
    result = run_audit(parse_config(raw), tmp_path)
    names = {r.attack for r in result.results}
    # 3 OUT models per record, below PER_EXAMPLE_MIN_MODELS: LiRA's default (variance auto) ran with the global variance
    assert "lira[offline,global variance,logit_confidence]" in names and "rmia[offline,confidence]" in names
    assert result.reference["tree"]["trained"] == 3


def test_the_target_is_asked_about_population_records_only_for_attacks_that_read_them(folder, tmp_path):
    """Offline LiRA and the shadow-model attack read the reference models on population records, never the target:
    the target answers only the 600 audited records. RMIA's z needs the target on them too (+300). The shadow
    attack's scores are the same whether or not the target was asked (its reference rows on z do not depend on it)."""
    from privaudit.pipeline import run_audit

    raw = yaml.safe_load((folder / "audit.yaml").read_text())
    raw["data"]["path"] = str(folder / "records.csv")
    raw["targets"][0]["path"] = str(folder / "tree.skops")
    raw["targets"][0]["reference"] = {"models": 3, "mode": "offline", "train_size": 150}
    raw["compute"]["store"] = str(tmp_path / "cache")
    shadow = {"name": "shadow_model", "per_class": False}

    def audit(attacks):
        result = run_audit(parse_config({**raw, "attacks": attacks}), tmp_path)
        return result.targets[0].queries, {r.attack: r for r in result.results}

    without, results = audit([{"name": "lira", "mode": "offline"}, shadow])
    assert without.records == without.total == 600 and without.by_source["outputs"]["calls"] == 1
    with_z, results_z = audit([shadow, {"name": "rmia", "mode": "offline"}])
    assert with_z.records == with_z.total == 900
    name = next(n for n in results if n.startswith("shadow_model"))
    np.testing.assert_array_equal(results[name].scores, results_z[name].scores)
    assert results[name].metrics.auc > 0.5


def test_reference_attack_without_reference_models_is_a_clear_error(folder, tmp_path):
    from privaudit.pipeline import run_audit

    raw = yaml.safe_load((folder / "audit.yaml").read_text())
    raw["attacks"] = ["loss", {"name": "lira"}]
    config = parse_config(raw)
    with pytest.raises(CapabilityError, match="need reference models.*add a 'reference' block"):
        run_audit(config, folder)


@pytest.mark.parametrize(
    "target, message",
    [
        ({"name": "net", "type": "torch", "weights": "w.safetensors", "factory": "m:f", "reference": {"models": 4}}, "need targets.net.reference.training"),
        ({"name": "vendor", "type": "precomputed", "path": "o.csv", "reference": {"models": 4}}, "cannot be retrained"),
        ({"name": "tree", "type": "sklearn", "path": "t.skops", "reference": {"models": 0}}, "reference.models"),
        ({"name": "tree", "type": "sklearn", "path": "t.skops", "reference": {"modes": "online"}}, "unknown key"),
    ],
)
def test_reference_config_mistakes(target, message):
    raw = {"data": {"path": "r.csv", "label": "y", "membership": {"column": "s"}}, "targets": [target]}
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_reference_models_flag_refuses_targets_without_a_recipe():
    raw = {"data": {"path": "r.csv", "label": "y", "membership": {"column": "s"}}, "targets": [{"name": "net", "type": "torch", "weights": "w.safetensors", "factory": "m:f"}]}
    with pytest.raises(ConfigError, match="--reference-models: .*need targets.net.reference.training"):
        with_reference_overrides(parse_config(raw), models=8)
