"""``privaudit demo --images --small`` end to end: Fashion-MNIST (the Debian package, .ci/run installs it), a CNN, reference models, the report.

Slow (about a minute on 2 cores): trains the CNN and 4 reference models on 250 images each.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("image-demo") / "privaudit-image-demo"
    completed = subprocess.run([sys.executable, "-c", "from privaudit.cli import main; main()", "demo", "--images", "--small", "--out", str(out)],
                               capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "report.html" in completed.stdout
    return out


@pytest.mark.timeout(960)
def test_image_demo_writes_its_files_and_a_report_of_the_cnn(demo_dir):
    for name in ("data/fashion_mnist_demo.npz", "models/cnn.safetensors", "models/training.json", "config.yaml", "report.json", "report.html", "scores.csv"):
        assert (demo_dir / name).is_file(), name
    config = yaml.safe_load((demo_dir / "config.yaml").read_text())
    assert config["targets"][0]["factory"] == "privaudit.models:build_cnn"
    with np.load(demo_dir / "data/fashion_mnist_demo.npz") as arrays:
        assert arrays["images"].shape[1:] == (28, 28) and arrays["images"].dtype == np.float32
        roles = arrays["membership"]
    assert (roles == "member").sum() == 250 and (roles == "nonmember").sum() == 750 and (roles == "population").sum() == 1_000
    training = json.loads((demo_dir / "models/training.json").read_text())
    assert training["accuracy"]["members"] > training["accuracy"]["nonmembers"] + 0.05  # the CNN overfits


@pytest.mark.timeout(960)
def test_image_demo_attacks_find_the_members(demo_dir):
    report = json.loads((demo_dir / "report.json").read_text())
    results = {r["attack"]: r for r in report["results"]}
    loss = results["threshold[loss]"]
    assert loss["n_members"] == 250 and loss["n_nonmembers"] == 750
    assert loss["auc_ci"][0] > 0.5, loss["auc_ci"]
    lira = [name for name in results if name.startswith("lira[")]
    assert {"online", "offline"} <= {name[5:].split(",")[0].rstrip("]") for name in lira}
    assert any(name.startswith("rmia[") for name in results)
    best_reference = max(results[name]["auc"] for name in results if name.startswith(("lira[", "rmia[")))
    assert best_reference > loss["auc"]
    from privaudit.image_demo import image_demo_attacks

    augmented = [spec for spec in image_demo_attacks() if isinstance(spec, dict) and spec.get("augment")]
    assert len([name for name in lira if ",aug=" in name]) == len(augmented)  # 2 once the attacks accept augment (online, offline)
    if augmented:
        assert report["targets"][0]["queries"]["per_record"] > 1  # the augmented copies are counted
    reference = report["run"]["reference"]["cnn"]
    assert (reference["n_models"], reference["mode"], reference["train_size"]) == (4, "online", 250)


def _cli(*args):
    return subprocess.run([sys.executable, "-c", "from privaudit.cli import main; main()", *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.mark.timeout(960)
def test_image_records_through_check_and_groups(demo_dir, tmp_path):
    """``check --records`` on image records scores them as the audit did (QMIA: same regressor, same score); the fabricated
    null and groups by a table column are refused in one line (before the fix: a mismatched-image-shape error, and
    a profile model fitted on pixels / "unsupported file type")."""
    import pandas as pd

    with np.load(demo_dir / "data/fashion_mnist_demo.npz") as arrays:
        pixels = arrays["images"][:6].reshape(6, -1)
        frame = pd.DataFrame(pixels, columns=[f"pixel_{i}" for i in range(pixels.shape[1])])
        frame["labels"], frame["ids"] = arrays["labels"][:6], arrays["ids"][:6]
    frame.to_csv(tmp_path / "records.csv", index=False)
    config = demo_dir / "config.yaml"
    completed = _cli("check", config, "--records", tmp_path / "records.csv", "--attack", "qmia", "--json", "-q")
    assert completed.returncode == 0, completed.stderr[-2000:]
    checked = {r["id"]: r["score"] for r in json.loads(completed.stdout)["records"]}
    scores = pd.read_csv(demo_dir / "scores.csv", dtype={"record_id": str}).set_index("record_id")
    audited = scores[[c for c in scores.columns if c.startswith("cnn/qmia[")][0]]
    assert checked.keys() == set(frame["ids"])
    assert np.allclose([checked[i] for i in frame["ids"]], audited.loc[frame["ids"]].to_numpy(), rtol=1e-5, atol=1e-6)

    completed = _cli("check", config, "--records", tmp_path / "records.csv", "--attack", "qmia", "--null", "fabricated", "-q")
    assert completed.returncode == 2 and len(completed.stderr.strip().splitlines()) == 1, completed.stderr[-2000:]
    assert "--null fabricated draws tabular profiles, not images" in completed.stderr

    grouped = yaml.safe_load(config.read_text())
    grouped.update(attacks=["loss"], groups=[{"column": "labels"}], output=str(tmp_path / "grouped"))
    grouped["data"]["path"] = str(demo_dir / grouped["data"]["path"])
    grouped["targets"][0]["weights"] = str(demo_dir / grouped["targets"][0]["weights"])
    (tmp_path / "grouped.yaml").write_text(yaml.safe_dump(grouped))
    completed = _cli("audit", tmp_path / "grouped.yaml")
    assert completed.returncode == 2 and len(completed.stderr.strip().splitlines()) == 1, completed.stderr[-2000:]
    assert "groups by column need a table" in completed.stderr and "by: label" in completed.stderr

    grouped.update(groups=None, targets=[grouped["targets"][0], {**grouped["targets"][0], "name": "before"}])
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(grouped))
    for extra in ([], ["--before", "before"]):  # a record check and a deletion check by person
        completed = _cli("check", tmp_path / "two.yaml", "--target", "cnn", *extra, "--records", tmp_path / "records.csv",
                         "--person-column", "ids", "--attack", "qmia", "-q")
        assert completed.returncode == 2 and len(completed.stderr.strip().splitlines()) == 1, completed.stderr[-2000:]
        assert "image or array data" in completed.stderr and "carry no person ids" in completed.stderr
