"""`privaudit sweep`: a tiny synthetic sweep end to end, resuming, reuse of trained targets and reference models, config errors."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")

from privaudit import models  # noqa: E402
from privaudit.cli import main  # noqa: E402
from privaudit.datasets import make_synthetic_tabular  # noqa: E402
from privaudit.exceptions import ConfigError  # noqa: E402
from privaudit.sweep import load_sweep_config, pareto_front, parse_sweep_config, run_sweep  # noqa: E402
from privaudit.exceptions import OutputError  # noqa: E402
from privaudit.sweep.example import ADULT_SWEEP_YAML, write_example  # noqa: E402
from privaudit.sweep.settings import attack_specs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["base", "dp2", "wd", "rounded"]
N_REFERENCE = 3


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(**changes) -> dict:
    config = {
        "seed": 0,
        "data": {"path": "records.csv", "label": "label", "id_column": "record_id", "membership": {"column": "split"}},
        "model": {"factory_kwargs": {"hidden": [64]}, "training": {"epochs": 20, "batch_size": 50, "learning_rate": 0.01}},
        "settings": [
            {"name": "base"},
            {"name": "dp2", "dp": {"target_epsilon": 2, "delta": 1.0e-4}},
            {"name": "wd", "training": {"weight_decay": 0.01}},
            {"name": "rounded", "output_defence": {"round": 1}},
        ],
        "reference": {"models": N_REFERENCE},
        "metrics": {"fprs": [0.1, 0.01], "bootstrap": 50},
        "frontier_fpr": 0.01,
        "compute": {"backend": "sequential", "store": "store"},
        "output": "out",
    }
    config.update(changes)
    return config


def _write(folder: Path, config: dict) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _write_data(folder: Path) -> None:
    frame = make_synthetic_tabular(900, label_noise=0.3, seed=3)
    roles = np.array(["member"] * 200 + ["nonmember"] * 300 + ["population"] * 400)
    frame["split"] = np.random.default_rng(0).permutation(roles)
    frame.to_csv(folder / "records.csv", index=False)


class TrainingCalls:
    """Counts calls of privaudit.models.train_classifier (targets and, on the sequential backend, reference models)."""

    def __init__(self, monkeypatch, fail_on_dp: bool = False) -> None:
        self.calls: list = []
        original = models.train_classifier

        def counting(module, features, labels, config, **kwargs):
            self.calls.append(config)
            if fail_on_dp and config.dp is not None:
                raise KeyboardInterrupt  # Ctrl-C while the DP target trains
            return original(module, features, labels, config, **kwargs)

        monkeypatch.setattr(models, "train_classifier", counting)

    def __len__(self) -> int:
        return len(self.calls)


def _run(folder: Path):
    config, base_dir = load_sweep_config(folder / "sweep.yaml")
    return run_sweep(config, base_dir)


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in sorted((folder / "out" / "settings").glob("*/result.json"))}


def _store_models(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "store").iterdir() if p.is_dir() and not p.name.startswith("."))


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, object, int]:
    """The four-setting sweep run once: (folder, SweepRun, train_classifier calls)."""
    folder = tmp_path_factory.mktemp("sweep")
    _write_data(folder)
    _write(folder, _config())
    monkeypatch = pytest.MonkeyPatch()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        calls = TrainingCalls(monkeypatch)
        run = _run(folder)
    finally:
        monkeypatch.undo()
        torch.set_num_threads(before)
    return folder, run, len(calls)


@pytest.fixture
def copy_of_sweep(swept, tmp_path) -> Path:
    """A private copy of the finished sweep folder (data, config, output, store) to rerun."""
    folder = tmp_path / "copy"
    shutil.copytree(swept[0], folder)
    return folder


def _rows(run) -> dict[str, dict]:
    return {row["name"]: row for row in run.document["settings"]}


def test_sweep_writes_every_output_with_one_row_per_setting(swept):
    folder, run, n_calls = swept
    out = folder / "out"
    assert run.ran == NAMES and run.resumed == []
    for name in NAMES:
        saved = json.loads((out / "settings" / name / "result.json").read_text())
        weights = (out / "settings" / name / "model.safetensors").read_bytes()
        assert saved["name"] == name and saved["weights"]["sha256"] == hashlib.sha256(weights).hexdigest()
        assert saved["audit"]["targets"][0]["name"] == name and saved["target"]["transform"] == "encoder.skops"
    assert (out / "encoder.skops").stat().st_size > 0
    document = json.loads((out / "sweep.json").read_text())
    assert document == run.document and document["kind"] == "privaudit sweep"
    assert [r["name"] for r in document["settings"]] == NAMES
    assert document["data"] == {**document["data"], "n_members": 200, "n_nonmembers": 300, "n_population": 400, "n_validation": 0}
    for row in document["settings"]:
        assert 0.5 < row["test_accuracy"] <= 1 and 0.5 < row["train_accuracy"] <= 1
        assert row["best"]["auc"] == max(a["auc"] for a in row["attacks"])
        # N_REFERENCE OUT models per record, below PER_EXAMPLE_MIN_MODELS: LiRA (variance auto) ran with the global variance
        assert {a["attack"] for a in row["attacks"]} >= {"threshold[loss]", "lira[offline,global variance,logit_confidence]", "rmia[offline,confidence]"}
        for attack in row["attacks"]:
            assert attack["auc_ci"][0] <= attack["auc"] <= attack["auc_ci"][1]
            assert attack["tpr_at_fpr"]["0.1"]["supported"] is True  # 300 non-members × 10 % = 30 expected false positives
            assert attack["tpr_at_fpr"]["0.01"]["supported"] is False  # 3 expected: not resolved
            assert attack["epsilon_lb"]["label"] == "heuristic estimate" and attack["epsilon_lb"]["value"] >= 0
        worst = row["worst_case"]["tpr_at_fpr"]
        assert worst["fpr"] == 0.01 and worst["tpr"] == max(a["tpr_at_fpr"]["0.01"]["tpr"] for a in row["attacks"])
        assert row["durations"]["total_s"] >= row["durations"]["audit_s"] > 0
    # the Pareto flags are those of the plotted figures
    rows = document["settings"]
    accuracy = [r["test_accuracy"] for r in rows]
    assert [r["on_frontier"]["tpr_at_fpr"] for r in rows] == pareto_front(accuracy, [r["worst_case"]["tpr_at_fpr"]["tpr"] for r in rows]).tolist()
    assert any(r["on_frontier"]["tpr_at_fpr"] for r in rows)
    # 3 targets (rounded reuses base's) + 3 reference models for each of the 3 recipes
    assert n_calls == 3 + 3 * N_REFERENCE
    html = run.files["html"].read_text()
    assert len(re.findall(r'<svg class="plot"', html)) == 2
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<script" not in html
    assert all(name in html for name in NAMES) and "Pareto frontier" in html


def test_dp_settings_report_the_accountant_epsilon_within_the_target(swept):
    rows = _rows(swept[1])
    dp = rows["dp2"]["dp"]
    assert 0 < dp["epsilon"] <= 2.0 and dp["target_epsilon"] == 2.0 and dp["delta"] == 1e-4 and dp["noise_multiplier"] > 0
    assert "DP-SGD ε=2" in rows["dp2"]["defence"]
    assert all(rows[name]["dp"] is None for name in ("base", "wd", "rounded"))
    # its reference models trained with DP too: another recipe, so other store keys
    assert rows["dp2"]["reference"]["trained"] == N_REFERENCE


def test_output_defence_only_setting_reuses_the_target_and_its_reference_models(swept):
    folder, run, _ = swept
    rows = _rows(run)
    rounded, base = rows["rounded"], rows["base"]
    assert rounded["training_reused_from"] == "base" and base["training_reused_from"] is None
    assert rounded["reference"]["trained"] == 0 and rounded["reference"]["reused"] == N_REFERENCE
    assert base["reference"]["trained"] == N_REFERENCE
    out = folder / "out" / "settings"
    assert (out / "rounded" / "model.safetensors").read_bytes() == (out / "base" / "model.safetensors").read_bytes()
    assert len(_store_models(folder)) == 3 * N_REFERENCE  # base, dp2, wd: nothing new for rounded
    assert rounded["defence"] == "output rounded to 1 decimal"


def test_rerun_skips_every_finished_setting(copy_of_sweep, monkeypatch):
    before = _mtimes(copy_of_sweep)
    calls = TrainingCalls(monkeypatch)
    run = _run(copy_of_sweep)
    assert run.ran == [] and run.resumed == NAMES and len(calls) == 0
    assert _mtimes(copy_of_sweep) == before
    assert all(row["resumed"] for row in run.document["settings"])


def test_a_changed_setting_is_redone_and_only_it(copy_of_sweep, monkeypatch, swept):
    config = _config()
    config["settings"][2]["training"]["weight_decay"] = 0.05
    _write(copy_of_sweep, config)
    before = _mtimes(copy_of_sweep)
    calls = TrainingCalls(monkeypatch)
    run = _run(copy_of_sweep)
    assert run.ran == ["wd"] and run.resumed == ["base", "dp2", "rounded"]
    assert len(calls) == 1 + N_REFERENCE and calls.calls[0].weight_decay == 0.05
    after = _mtimes(copy_of_sweep)
    assert after["wd"] != before["wd"] and {k: v for k, v in after.items() if k != "wd"} == {k: v for k, v in before.items() if k != "wd"}
    assert _rows(run)["wd"]["defence"] == "weight decay 0.05"
    assert _rows(run)["wd"]["fingerprint"] != _rows(swept[1])["wd"]["fingerprint"]
    # a changed audit setting (not training) redoes the audits but trains nothing new
    config["metrics"]["bootstrap"] = 60
    _write(copy_of_sweep, config)
    calls.calls.clear()
    run = _run(copy_of_sweep)
    assert run.ran == NAMES and len(calls) == 0
    assert all(row["reference"] is None or row["reference"]["trained"] == 0 for row in run.document["settings"])


def test_an_interrupted_sweep_keeps_finished_settings_and_resumes(tmp_path, monkeypatch):
    _write_data(tmp_path)
    _write(tmp_path, _config(settings=[{"name": "base"}, {"name": "dp2", "dp": {"target_epsilon": 2, "delta": 1.0e-4}}]))
    calls = TrainingCalls(monkeypatch, fail_on_dp=True)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path)
    out = tmp_path / "out"
    assert (out / "settings" / "base" / "result.json").is_file()
    assert not (out / "settings" / "dp2").exists() and not (out / "sweep.json").exists()
    assert not list(out.rglob(".tmp-*"))
    monkeypatch.undo()
    calls = TrainingCalls(monkeypatch)
    run = _run(tmp_path)
    assert run.resumed == ["base"] and run.ran == ["dp2"] and len(calls) == 1 + N_REFERENCE


def test_cli_sweep_is_deterministic_under_the_seed(swept, tmp_path, capsys):
    """The same base setting, without reference models, run through the CLI elsewhere: identical weights, exit 0."""
    shutil.copy(swept[0] / "records.csv", tmp_path / "records.csv")
    config = _config(settings=[{"name": "base"}])
    del config["reference"]
    path = _write(tmp_path, config)
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(path), "--out", str(tmp_path / "cli-out")])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "frontier:" in out and "base" in out and "1 settings run" in out
    weights = (tmp_path / "cli-out" / "settings" / "base" / "model.safetensors").read_bytes()
    assert weights == (swept[0] / "out" / "settings" / "base" / "model.safetensors").read_bytes()


def test_early_stopping_uses_validation_records_from_the_population_and_reference_models_train_its_epochs(swept, tmp_path):
    shutil.copy(swept[0] / "records.csv", tmp_path / "records.csv")
    config = _config(settings=[{"name": "early", "training": {"patience": 2, "epochs": 60}}], attacks=["loss", "lira"])
    config["model"]["validation_size"] = 100
    _write(tmp_path, config)
    run = _run(tmp_path)
    row = run.document["settings"][0]
    assert run.document["data"]["n_validation"] == 100 and run.document["data"]["n_population"] == 300
    assert row["epochs_run"] < 60 and row["defence"] == "epochs 60; early stopping, patience 2"
    metas = [json.loads((tmp_path / "store" / key / "meta.json").read_text()) for key in _store_models(tmp_path)]
    assert len(metas) == N_REFERENCE
    assert all(m["recipe"]["training"]["epochs"] == row["epochs_run"] and m["recipe"]["training"]["patience"] == 0 for m in metas)


# -- config errors: one line, exit 2, before anything trains ------------------------
def _cli_error(folder: Path, config: dict, capsys) -> str:
    path = _write(folder, config)
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("privaudit: error: "), err
    return lines[0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c["settings"][0].update(dropout=0.5), ["unknown key 'settings[0] 'base'.dropout'", "allowed keys here: name, dp, training"]),
        (lambda c: c["model"].update(epochs=3), ["unknown key 'model.epochs'", "training"]),
        (lambda c: c["settings"][1]["dp"].update(target_epsilon=0), ["settings[1] 'dp2'.dp.target_epsilon", "greater than 0"]),
        (lambda c: c["settings"][1]["dp"].update(target_epsilon=float("inf")), ["settings[1] 'dp2'", "leave out the dp block"]),
        (lambda c: c["settings"][1]["dp"].update(target_epsilon="lots"), ["settings[1] 'dp2'.dp.target_epsilon", "valid number"]),
        (lambda c: c["settings"].append({"name": "base"}), ["setting names must be unique; repeated: base"]),
        (lambda c: c["model"]["factory_kwargs"].update(n_inputs=5), ["model.factory_kwargs", "n_inputs", "remove them"]),
        (lambda c: c["settings"][2]["training"].update(patience=3), ["'wd' stops early", "model.validation_size"]),
        (lambda c: c.update(frontier_fpr=0.001), ["frontier_fpr 0.001 must be one of metrics.fprs"]),
        (lambda c: c["settings"].append({"name": "odd", "output_defence": {}}), ["settings[4] 'odd'.output_defence", "sets nothing"]),
    ],
)
def test_bad_sweep_configs_give_one_line_and_exit_2(tmp_path, capsys, change, expected):
    config = _config()
    change(config)
    line = _cli_error(tmp_path, config, capsys)
    for text in expected:
        assert text in line, line


def test_missing_data_file_and_user_mistakes_found_before_training(tmp_path, capsys, monkeypatch):
    calls = TrainingCalls(monkeypatch)
    line = _cli_error(tmp_path, _config(), capsys)
    assert "data.path: data file" in line and "records.csv not found" in line and "--example adult" in line
    _write_data(tmp_path)
    too_big_delta = _config()
    too_big_delta["settings"][1]["dp"]["delta"] = 0.01
    line = _cli_error(tmp_path, too_big_delta, capsys)
    assert "settings 'dp2'" in line and "not below 1/n" in line and "200 training records" in line
    no_reference = _config(attacks=["loss", "rmia"])
    del no_reference["reference"]
    line = _cli_error(tmp_path, no_reference, capsys)
    assert "attacks: 'rmia" in line and "add a reference block" in line
    augmented = _config(attacks=["loss", {"name": "lira", "mode": "offline", "augment": True}])  # tabular records: no images to flip
    line = _cli_error(tmp_path, augmented, capsys)
    assert "attacks: 'lira[" in line and "augmentations need image records" in line
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(missing)])
    assert exit_info.value.code == 2 and "sweep config not found" in capsys.readouterr().err
    assert len(calls) == 0


def test_attacks_for_label_only_targets_and_reference_modes():
    config = parse_sweep_config({**_config(attacks=["loss", {"name": "classwise_threshold", "signal": "loss"}, "rmia"]), "reference": {"models": 2, "mode": "offline"}})
    specs, skipped = attack_specs(config, "probabilities")
    assert specs == ["loss", {"name": "classwise_threshold", "signal": "loss"}, {"name": "rmia", "mode": "offline"}] and skipped == []
    specs, skipped = attack_specs(config, "labels")
    assert specs == ["correctness"] and skipped == ["threshold[loss]", "classwise_threshold[loss]", "rmia[offline,confidence]"]
    assert attack_specs(parse_sweep_config(_config()), "labels") == (None, [])  # no list: the audit's defaults for labels
    # label-only attacks query perturbed copies: they run on a labels-only setting instead of being skipped
    label_only = parse_sweep_config(_config(attacks=["loss", "label_only_augmentation"]))
    specs, skipped = attack_specs(label_only, "labels")
    assert specs == [{"name": "label_only_augmentation"}] and skipped == ["threshold[loss]"]


def test_pareto_front_keeps_only_undominated_points():
    accuracy = np.array([0.80, 0.85, 0.84, 0.70, 0.85, np.nan])
    leakage = np.array([0.02, 0.05, 0.06, 0.02, 0.05, 0.0])
    assert pareto_front(accuracy, leakage).tolist() == [True, True, False, False, True, False]
    assert pareto_front([0.8, 0.9], [np.nan, 0.1]).tolist() == [False, True]
    with pytest.raises(ValueError):
        pareto_front([0.1, 0.2], [0.1])


def test_adult_example_is_the_repository_file_and_writes_its_split(tmp_path):
    assert (ROOT / "examples" / "sweep-adult.yaml").read_text() == ADULT_SWEEP_YAML
    config = parse_sweep_config(yaml.safe_load(ADULT_SWEEP_YAML))
    epsilons = sorted(s.dp.target_epsilon for s in config.settings if s.dp is not None)
    assert epsilons == [0.5, 1, 2, 4, 8] and any(s.dp is None and s.output_defence is None and s.training is None for s in config.settings)
    assert {"rounded", "labels-only", "weight-decay", "dropout"} <= {s.name for s in config.settings}
    path = write_example("adult", tmp_path / "adult")
    import pandas as pd

    frame = pd.read_parquet(tmp_path / "adult" / config.data.path)
    counts = frame["membership"].value_counts().to_dict()
    assert path.read_text() == ADULT_SWEEP_YAML and counts == {"population": 37_842, "nonmember": 10_000, "member": 1_000}
    with pytest.raises(ConfigError, match="unknown sweep example"):
        write_example("mnist", tmp_path)
    assert write_example("adult", tmp_path / "adult") == path  # the same config again: fine
    path.write_text(ADULT_SWEEP_YAML.replace("epochs: 20", "epochs: 5"))
    with pytest.raises(OutputError, match="sweep-adult.yaml was changed since privaudit wrote it"):  # the shared owner check
        write_example("adult", tmp_path / "adult")
