"""Bad-input battery for data files, record ids, precomputed outputs, the reference store, target weights and plots (issue 13).

Each case runs ``privaudit audit`` end to end (in process, through ``tests/hostile.py``) on a tiny
config in ``tmp_path`` whose inputs one case breaks, and asserts: the exit code, exactly one
``privaudit: error:`` line naming the file, column or option, no traceback, and that the report
an earlier good run wrote is untouched.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile import assert_one_line_error, assert_unchanged, run_cli, snapshot

N = 120
FEATURES = ["x0", "x1"]


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 2))
    label = np.where(x[:, 0] + rng.normal(scale=0.8, size=N) > 0, "yes", "no")
    split = np.array(["member", "nonmember"] * (N // 2))
    return pd.DataFrame({"record_id": [f"rec-{i:04d}" for i in range(N)], "x0": x[:, 0], "x1": x[:, 1], "label": label, "split": split})


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory) -> Path:
    """records.csv, a skops logistic regression, its outputs as a precomputed file, and a good report from them."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("hostile-data")
    frame = _frame()
    frame.to_csv(folder / "records.csv", index=False)
    members = frame[frame.split == "member"]
    model = LogisticRegression(C=100.0).fit(members[FEATURES], members.label)
    sio.dump(model, folder / "model.skops")
    probabilities = model.predict_proba(frame[FEATURES])
    pd.DataFrame({"record_id": frame.record_id, "no": probabilities[:, 0], "yes": probabilities[:, 1]}).to_csv(folder / "outputs.csv", index=False)
    (folder / "audit.yaml").write_text(yaml.safe_dump(_config(folder), sort_keys=False))
    good = run_cli(["audit", folder / "audit.yaml", "--quiet"])
    assert good.code == 0 and (folder / "report" / "report.json").is_file(), good.err
    return folder


def _config(folder: Path, *, data: dict | None = None, targets: list | None = None, **extra) -> dict:
    config = {
        "seed": 1,
        "data": {"path": "records.csv", "label": "label", "id_column": "record_id", "features": FEATURES, "membership": {"column": "split"}, **(data or {})},
        "targets": targets or [{"name": "vendor", "type": "precomputed", "path": "outputs.csv"}],
        "attacks": ["loss"],
        "metrics": {"bootstrap": 50},
        "output": "report",
        **extra,
    }
    return config


@pytest.fixture
def case(base_folder, tmp_path):
    """A fresh copy of the inputs and of the good report an earlier run wrote; returns (folder, write_config)."""
    shutil.copytree(base_folder, tmp_path, dirs_exist_ok=True)

    def write(config: dict) -> Path:
        path = tmp_path / "audit.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    return tmp_path, write


def _refused(folder: Path, config_path: Path, *, code=2, names=(), argv=()) -> str:
    before = snapshot(folder / "report")
    assert before, "the earlier good run left no report"
    outcome = run_cli(["audit", config_path, "--quiet", *argv])
    line = assert_one_line_error(outcome, code=code, names=names)
    assert_unchanged(before, folder / "report")
    return line


# -- the cases: each breaks one input of a good audit and says what the error line must name ---------------------
def _ids_files(folder: Path, members: list[str], nonmembers: list[str] | None = None) -> dict:
    frame = _frame()
    nonmembers = list(frame.record_id[frame.split == "nonmember"]) if nonmembers is None else nonmembers
    (folder / "members.txt").write_text("\n".join(members) + "\n")
    (folder / "nonmembers.txt").write_text("\n".join(nonmembers) + "\n")
    return {"membership": {"members": "members.txt", "nonmembers": "nonmembers.txt"}}


def _member_ids() -> list[str]:
    frame = _frame()
    return list(frame.record_id[frame.split == "member"])


def _rewrite_records(folder: Path, edit) -> None:
    frame = pd.read_csv(folder / "records.csv", dtype={"record_id": str})
    edit(frame)
    frame.to_csv(folder / "records.csv", index=False)


def _gzip_records(folder: Path, damage) -> dict:
    data = gzip.compress((folder / "records.csv").read_bytes())
    (folder / "records.csv.gz").write_bytes(damage(data))
    return {"path": "records.csv.gz"}


def case_member_id_with_trailing_space(folder):
    ids = _member_ids()
    ids[3] = ids[3] + " "
    return _config(folder, data=_ids_files(folder, ids)), ["members.txt", "'rec-0006 '", "'rec-0006'", "whitespace or case"]


def case_member_id_in_other_case(folder):
    ids = _member_ids()
    ids[0] = ids[0].upper()
    return _config(folder, data=_ids_files(folder, ids)), ["members.txt", "'REC-0000'", "'rec-0000'"]


def case_nonmember_id_unknown(folder):
    frame = _frame()
    nonmembers = list(frame.record_id[frame.split == "nonmember"]) + ["rec-9999"]
    return _config(folder, data=_ids_files(folder, _member_ids(), nonmembers)), ["nonmembers.txt", "'rec-9999'", "not in the data"]


def case_member_id_listed_twice(folder):
    ids = _member_ids()
    return _config(folder, data=_ids_files(folder, ids + ids[:2])), ["members.txt", "more than once", "'rec-0000'", "'rec-0002'"]


def case_members_file_latin1(folder):
    data = _ids_files(folder, _member_ids())
    (folder / "members.txt").write_bytes("rec-0000\nr\xe9c-0002\n".encode("latin-1"))
    return _config(folder, data=data), ["members.txt", "UTF-8"]


def case_duplicate_record_ids(folder):
    _rewrite_records(folder, lambda f: f.__setitem__("record_id", [f"rec-{i % 100:04d}" for i in range(N)]))
    return _config(folder), ["records.csv", "'record_id'", "duplicate", "'rec-0000'"]


def case_empty_record_id(folder):
    def edit(frame):
        frame.loc[7, "record_id"] = ""
    _rewrite_records(folder, edit)
    return _config(folder), ["records.csv", "'record_id'", "empty ids", "rows 8"]


def case_truncated_gzip_csv(folder):
    return _config(folder, data=_gzip_records(folder, lambda d: d[: len(d) // 2])), ["records.csv.gz", "truncated"]


def case_corrupt_gzip_csv(folder):
    return _config(folder, data=_gzip_records(folder, lambda d: d[:30] + bytes(b ^ 0x5A for b in d[30:60]) + d[60:])), ["records.csv.gz", "corrupt"]


def case_not_gzip_named_gz(folder):
    return _config(folder, data=_gzip_records(folder, lambda d: gzip.decompress(d))), ["records.csv.gz", "not a gzip file"]


def case_empty_csv(folder):
    (folder / "records.csv").write_bytes(b"")
    return _config(folder), ["records.csv", "empty"]


def case_header_only_csv(folder):
    (folder / "records.csv").write_text("record_id,x0,x1,label,split\n")
    return _config(folder), ["records.csv", "no rows"]


def case_binary_file_named_csv(folder):
    (folder / "records.csv").write_bytes(bytes(range(256)) * 8)
    return _config(folder), ["records.csv", "binary"]


def case_latin1_csv(folder):
    text = (folder / "records.csv").read_text().replace("rec-0005", "r\xe9c-0005")
    (folder / "records.csv").write_bytes(text.encode("latin-1"))
    return _config(folder), ["records.csv", "UTF-8", "line 7"]


def case_ragged_csv(folder):
    with open(folder / "records.csv", "a") as handle:
        handle.write("rec-x,1,2,yes,member,extra,fields\n")
    return _config(folder), ["records.csv", "well-formed CSV"]


def case_truncated_parquet(folder):
    pd.read_csv(folder / "records.csv").to_parquet(folder / "records.parquet")
    data = (folder / "records.parquet").read_bytes()
    (folder / "records.parquet").write_bytes(data[: len(data) // 2])
    return _config(folder, data={"path": "records.parquet"}), ["records.parquet", "Parquet"]


def case_csv_named_parquet(folder):
    shutil.copy(folder / "records.csv", folder / "records.parquet")
    return _config(folder, data={"path": "records.parquet"}), ["records.parquet", "Parquet"]


def case_label_column_missing(folder):
    return _config(folder, data={"label": "outcome"}), ["records.csv", "label column 'outcome'", "label"]


def case_feature_all_missing(folder):
    _rewrite_records(folder, lambda f: f.__setitem__("x1", np.nan))
    return _config(folder, targets=[{"name": "lr", "type": "sklearn", "path": "model.skops"}]), ["records.csv", "'x1'", "empty in every row", "data.features"]


def case_feature_not_numeric(folder):
    def edit(frame):
        frame["x0"] = frame["x0"].astype(object)
        frame.loc[4, "x0"] = "n/a?"
    _rewrite_records(folder, edit)
    return _config(folder, targets=[{"name": "lr", "type": "sklearn", "path": "model.skops"}]), ["records.csv", "'x0'", "'n/a?'", "row 5"]


def case_precomputed_misspelt_class_column(folder):
    outputs = pd.read_csv(folder / "outputs.csv").rename(columns={"yes": "Yes"})
    outputs.to_csv(folder / "outputs.csv", index=False)
    return _config(folder), ["outputs.csv", "['yes']", "'Yes'", "targets.vendor.columns"]


def case_precomputed_columns_absent(folder):
    return _config(folder, targets=[{"name": "vendor", "type": "precomputed", "path": "outputs.csv", "columns": ["no", "maybe"]}]), ["outputs.csv", "'maybe'", "targets.vendor.columns"]


def case_precomputed_columns_repeat_id(folder):
    return _config(folder, targets=[{"name": "vendor", "type": "precomputed", "path": "outputs.csv", "columns": ["record_id", "no"]}]), ["targets.vendor.columns", "record_id"]


def case_precomputed_id_column_missing(folder):
    return _config(folder, targets=[{"name": "vendor", "type": "precomputed", "path": "outputs.csv", "id_column": "uid"}]), ["outputs.csv", "'uid'", "targets.vendor.id_column"]


def case_precomputed_truncated_gzip(folder):
    data = gzip.compress((folder / "outputs.csv").read_bytes())
    (folder / "outputs.csv.gz").write_bytes(data[: len(data) - 40])
    return _config(folder, targets=[{"name": "vendor", "type": "precomputed", "path": "outputs.csv.gz"}]), ["outputs.csv.gz", "truncated"]


CASES = {name[len("case_"):]: fn for name, fn in dict(globals()).items() if name.startswith("case_")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_data_input_is_one_line_and_keeps_the_earlier_report(case, name):
    folder, write = case
    config, names = CASES[name](folder)
    _refused(folder, write(config), names=names)


# -- the reference-model store verifies what it loads ------------------------------------------------------------------
@pytest.fixture(scope="module")
def store_folder(base_folder, tmp_path_factory) -> Path:
    """The base inputs plus a LiRA audit with two reference models, stored under .privaudit-cache/."""
    folder = tmp_path_factory.mktemp("hostile-store")
    shutil.copytree(base_folder, folder, dirs_exist_ok=True)
    config = _config(folder, targets=[{"name": "lr", "type": "sklearn", "path": "model.skops", "reference": {"models": 2}}], compute={"backend": "sequential"})
    config["attacks"] = ["lira"]
    (folder / "audit.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    good = run_cli(["audit", folder / "audit.yaml", "--quiet"])
    assert good.code == 0, good.err
    return folder


def _store_entry(folder: Path) -> Path:
    return sorted(p for p in (folder / ".privaudit-cache").iterdir() if (p / "meta.json").is_file())[0]


def store_altered_outputs(folder):
    outputs = next(_store_entry(folder).glob("outputs-*.npy"))
    array = np.load(outputs)
    np.save(outputs, array[:, ::-1])  # same shape and dtype: only the content hash can tell
    return [outputs.name, "sha256", "recompute"]


def store_truncated_model(folder):
    entry = _store_entry(folder)
    for path in entry.glob("outputs-*"):
        path.unlink()  # outputs must be recomputed, so the stored model is loaded
    model = entry / "model" / "model.skops"
    model.write_bytes(model.read_bytes()[:300])
    return ["model.skops", "sha256", f"delete {entry}"]


def store_without_hashes(folder):
    marker = folder / ".privaudit-cache" / ".privaudit-store.json"
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "format": 1}))
    return [".privaudit-cache", "format 1", "compute.store"]


@pytest.mark.parametrize("damage", [store_altered_outputs, store_truncated_model, store_without_hashes], ids=lambda f: f.__name__)
def test_damaged_reference_store_is_one_line_naming_the_file(store_folder, tmp_path, damage):
    shutil.copytree(store_folder, tmp_path, dirs_exist_ok=True)
    names = damage(tmp_path)
    _refused(tmp_path, tmp_path / "audit.yaml", names=names)


# -- target files, --out, plots ------------------------------------------------------------------------------------------
def test_truncated_safetensors_weights_are_one_line(case):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    from privaudit.models import build_mlp

    folder, write = case
    torch.manual_seed(0)
    save_file(build_mlp(2, 2, hidden=(4,)).state_dict(), str(folder / "weights.safetensors"))
    data = (folder / "weights.safetensors").read_bytes()
    (folder / "weights.safetensors").write_bytes(data[: len(data) // 2])
    target = {"name": "net", "type": "torch", "weights": "weights.safetensors", "factory": "privaudit.models:build_mlp",
              "factory_kwargs": {"n_inputs": 2, "n_classes": 2, "hidden": [4]}}
    _refused(folder, write(_config(folder, targets=[target])), names=["targets.net.weights", "weights.safetensors", "safetensors"])


def test_out_naming_an_existing_file_is_one_line(case):
    folder, write = case
    (folder / "notes.txt").write_text("mine")
    _refused(folder, write(_config(folder)), names=["--out", "notes.txt"], argv=["--out", folder / "notes.txt"])
    assert (folder / "notes.txt").read_text() == "mine"


def test_group_values_with_dollar_signs_are_drawn_as_text(case):
    folder, write = case
    _rewrite_records(folder, lambda f: f.__setitem__("site", np.where(np.arange(N) % 2 == 0, r"$\undefinedcommand$", "$x^2$")))
    config = _config(folder, groups=[{"column": "site"}])
    outcome = run_cli(["audit", write(config), "--quiet", "--out", folder / "grouped"])
    assert outcome.escaped is None and outcome.code == 0, outcome.err
    html = (folder / "grouped" / "report.html").read_text()
    assert r"\undefinedcommand" in html and "$x^2$" in html


def test_reference_models_without_feature_columns_are_one_line(case):
    """A precomputed target with reference.estimator and a data file of ids, labels and roles only (a new user met
    ``ValueError: at least one array or dtype is required`` under a page of concurrent.futures traceback)."""
    folder, write = case
    pd.read_csv(folder / "records.csv")[["record_id", "label", "split"]].to_csv(folder / "records.csv", index=False)
    config = _config(folder, targets=[{"name": "vendor", "type": "precomputed", "path": "outputs.csv", "reference": {"models": 2, "estimator": "model.skops"}}])
    config["data"].pop("features")
    config["attacks"] = ["lira"]
    _refused(folder, write(config), names=["data.features", "reference"])
