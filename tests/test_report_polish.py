"""Report polish: no absolute local paths in what is shared, config dump without nulls, one legend entry per coinciding ROC curve."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import privaudit
from privaudit.pipeline import run_audit
from privaudit.config import load_config
from privaudit.report import render_html, write_report
from privaudit.report.model_card import model_card_section
from privaudit.report.plots import coinciding_curves, roc_svg
from privaudit.shared_paths import shareable_config, shareable_path, shareable_result


def _audit_from_config(folder: Path, *, absolute_target_path: bool):
    rng = np.random.default_rng(0)
    n = 600
    labels = rng.integers(0, 2, n)
    split = np.array(["member"] * 200 + ["nonmember"] * 200 + ["population"] * 200)
    p_true = 1 / (1 + np.exp(-(rng.normal(0.5, 1.0, n) + 1.0 * (split == "member"))))
    p1 = np.where(labels == 1, p_true, 1 - p_true)
    (folder / "data").mkdir()
    pd.DataFrame({"record_id": np.arange(n), "label": labels, "split": split}).to_csv(folder / "data" / "records.csv", index=False)
    pd.DataFrame({"record_id": np.arange(n), "0": 1 - p1, "1": p1}).to_csv(folder / "outputs.csv", index=False)
    config = {
        "data": {"path": "data/records.csv", "label": "label", "id_column": "record_id", "membership": {"column": "split"}},
        "targets": [{"name": "vendor", "type": "precomputed", "outputs": "probabilities",
                     "path": str(folder / "outputs.csv") if absolute_target_path else "outputs.csv"}],
        "metrics": {"bootstrap": 50},
        "output": str(folder / "report"),
    }
    (folder / "audit.yaml").write_text(yaml.safe_dump(config))
    parsed, base = load_config(folder / "audit.yaml")
    return run_audit(parsed, base)


def test_no_absolute_local_path_in_report_json_html_or_model_card(tmp_path):
    result = _audit_from_config(tmp_path, absolute_target_path=True)
    paths = write_report(result, tmp_path / "report")
    document = json.loads(paths["json"].read_text())
    card = model_card_section(document, source=str(paths["json"]))
    for text in (paths["json"].read_text(), paths["html"].read_text(), card):
        assert str(tmp_path) not in text
        assert str(tmp_path.resolve()) not in text
    assert document["run"]["data_source"] == "data/records.csv"  # relative to the config, as written there
    assert document["run"]["config"]["targets"][0]["path"] == "outputs.csv"  # absolute in the config, relative to it in the report
    assert document["run"]["config"]["output"] == "report"
    assert "from report/report.json" in card and "`data/records.csv`" in card


def test_python_api_paths_shrink_to_file_names(tmp_path):
    result = _audit_from_config(tmp_path, absolute_target_path=False)
    result.data_source = str(tmp_path / "elsewhere" / "records.csv")  # e.g. load_audit_data("/abs/records.csv")
    result.reference = {"vendor": {"n_models": 2, "mode": "offline", "store": str(tmp_path / ".privaudit-cache")}}
    document = json.loads(write_report(result, tmp_path / "api")["json"].read_text())
    assert document["run"]["data_source"] == "records.csv"
    assert document["run"]["reference"]["vendor"]["store"] == ".privaudit-cache"
    result.trust = {"trust_code": True, "factories": {"net": str(tmp_path / "models.py") + ":build", "mod": "mymodels:build"},
                    "pickles": {"old": "/srv/old.pkl"}, "trusted_types": {}}
    shareable_result(result, tmp_path)
    assert result.data_source == "elsewhere/records.csv" and result.reference["vendor"]["store"] == ".privaudit-cache"
    assert result.trust["factories"] == {"net": "models.py:build", "mod": "mymodels:build"} and result.trust["pickles"] == {"old": "old.pkl"}


def test_shareable_path_rules(tmp_path):
    assert shareable_path(str(tmp_path / "a" / "b.csv"), tmp_path) == "a/b.csv"
    assert shareable_path("/elsewhere/model.skops", tmp_path) == "model.skops"
    assert shareable_path("C:\\Users\\me\\model.skops") == "model.skops"
    assert shareable_path("/home/me/models.py:build", "/tmp/x") == "models.py:build"
    assert shareable_path("relative/file.csv") == "relative/file.csv"
    # an HTTP response path or a URL is not a local file: left alone; a path key is rewritten even if the file is gone
    config = {"targets": [{"url": "http://127.0.0.1:8000/predict", "response": "/predictions", "path": "/gone/m.skops"}]}
    assert shareable_config(config) == {"targets": [{"url": "http://127.0.0.1:8000/predict", "response": "/predictions", "path": "m.skops"}]}


def test_config_dump_on_the_page_has_no_null_keys(tmp_path):
    result = _audit_from_config(tmp_path, absolute_target_path=False)
    assert any(v is None for v in result.config["targets"][0].values())  # the config dump has unset keys ...
    page = render_html(result)
    dump = re.search(r"<pre>(.*?)</pre>", page, re.S).group(1)
    assert "null" not in dump and "id_column: record_id" in dump and "path: outputs.csv" in dump  # ... the page shows only the set ones
    assert yaml.safe_load(dump.replace("&#39;", "'").replace("&quot;", '"'))["targets"][0]["name"] == "vendor"


def test_roc_legend_has_one_entry_per_coinciding_curve():
    rng = np.random.default_rng(2)
    m, n = rng.normal(size=(300, 2)), rng.normal(size=(300, 2))
    labels = rng.integers(0, 2, 600)
    m[np.arange(300), labels[:300]] += 1.5
    result = privaudit.audit_outputs(members=m, nonmembers=n, labels_members=labels[:300], labels_nonmembers=labels[300:], kind="logits",
                                     n_bootstrap=20, attacks=["loss", "confidence", "logit_confidence", "entropy"])
    is_member = result.is_member
    groups = coinciding_curves(result.results, is_member)
    # on two classes loss, confidence and logit confidence are monotone in one another: one curve; entropy ranks differently
    assert [[r.attack for r in g] for g, _ in groups] == [["threshold[loss]", "threshold[confidence]", "threshold[logit_confidence]"],
                                                          ["threshold[entropy]"]]
    svg = roc_svg(result.results, is_member, plot_id="roc-t", title="t")
    assert svg.count("3 attacks, one curve") == 1 and svg.count("threshold[entropy] (AUC") == 1
    assert "threshold[loss] (AUC" not in svg
    assert "mathdefault" not in svg and ">0.001<" in svg  # log ticks as plain decimals, not raw mathtext
