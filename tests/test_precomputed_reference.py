"""Reference models trained elsewhere: ``reference: {outputs: refs.npz}`` gives the same attack scores as training them here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from privaudit.config import load_config
from privaudit.exceptions import ConfigError, DataError
from privaudit.reference.precomputed import check_reference_ids, load_reference_outputs, save_reference_outputs

from audit_folders import FEATURES, tree_config, write_split_records  # noqa: E402  (tests/ helper)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """600 audited + 300 population records, an overfit tree, a config training 4 online reference models."""
    import skops.io as sio
    from sklearn.tree import DecisionTreeClassifier

    folder = tmp_path_factory.mktemp("precomputed-reference")
    members = write_split_records(folder, 300)
    sio.dump(DecisionTreeClassifier(random_state=0).fit(members[FEATURES], members.label), folder / "tree.skops")
    config = tree_config({"name": "tree", "path": "tree.skops", "reference": {"models": 4, "mode": "online"}})
    (folder / "trained.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    config["targets"][0]["reference"] = {"outputs": "refs.npz"}
    (folder / "precomputed.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def trained(folder):
    """The trained run's result, and the reference outputs and IN masks its attacks saw, written to refs.npz."""
    import privaudit.reference.model_signals as model_signals
    from privaudit.pipeline import run_audit

    seen = {}
    original = model_signals.signals_of_models

    def spy(plan, data, names, target_population_signals, query_records, n_audited, n_plain, model_outputs, output_kind, in_mask, model_keys, segments):
        seen.update(ids=query_records.ids, in_mask=in_mask, kind=output_kind, outputs=np.stack([model_outputs(k) for k in range(len(model_keys))]))
        return original(plan, data, names, target_population_signals, query_records, n_audited, n_plain, model_outputs, output_kind, in_mask,
                        model_keys, segments)

    model_signals.signals_of_models = spy
    try:
        config, base = load_config(folder / "trained.yaml")
        result = run_audit(config, base)
    finally:
        model_signals.signals_of_models = original
    save_reference_outputs(folder / "refs.npz", seen["ids"], seen["in_mask"].T, seen["outputs"], seen["kind"])
    return result, seen


def test_precomputed_outputs_give_identical_attack_scores(folder, trained):
    from privaudit.pipeline import run_audit

    result, _ = trained
    config, base = load_config(folder / "precomputed.yaml")
    again = run_audit(config, base)
    assert again.reference["tree"]["backend"] == "precomputed" and again.reference["tree"]["n_models"] == 4
    assert again.reference["tree"]["mode"] == "online"
    scores = {r.attack: r.scores for r in result.results}
    reference_attacks = [r for r in again.results if r.attack.startswith(("lira", "rmia", "reference_calibrated"))]
    assert {r.attack.split("[")[0] for r in reference_attacks} >= {"lira", "rmia", "reference_calibrated_loss"}
    assert set(scores) == {r.attack for r in again.results}
    for r in again.results:
        np.testing.assert_array_equal(r.scores, scores[r.attack], err_msg=r.attack)


def test_offline_keep_makes_an_offline_plan(folder, trained, tmp_path):
    from privaudit.pipeline.inputs import load_data
    from privaudit.reference.plan import plans_from_config

    _, seen = trained
    keep = seen["in_mask"].T.copy()
    config, base = load_config(folder / "precomputed.yaml")
    data = load_data(config.data, base)
    keep[:, np.isin(seen["ids"], data.records.ids[data.audited])] = False  # no audited record trained any model
    save_reference_outputs(tmp_path / "refs.npz", seen["ids"], keep, seen["outputs"], seen["kind"])
    plan = plans_from_config(config, tmp_path, data=data)["tree"]
    assert plan.mode == "offline" and plan.n_models == 4 and plan.precomputed is not None


def _hostile(tmp_path, seen, **change) -> Path:
    arrays = {"record_ids": np.asarray(seen["ids"]).astype(str), "keep": seen["in_mask"].T.copy(), "outputs": seen["outputs"].astype(np.float32),
              "kind": np.array(seen["kind"])}
    arrays.update(change)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = tmp_path / "refs.npz"
    np.savez(path, **arrays)
    return path


def _nan_outputs(seen):
    outputs = seen["outputs"].astype(np.float32)
    outputs[2, 7, 0] = np.nan
    return outputs


HOSTILE = {
    "missing array": (lambda s: {"keep": None}, "no array 'keep'"),
    "pickled ids": (lambda s: {"record_ids": np.asarray(s["ids"]).astype(object)}, "array 'record_ids' holds Python objects"),
    "repeated id": (lambda s: {"record_ids": np.r_[np.asarray(s["ids"])[:1], np.asarray(s["ids"])[:-1]].astype(str)}, "more than once"),
    "keep not bool": (lambda s: {"keep": s["in_mask"].T.astype(np.int8)}, "array 'keep' has type int8, not bool"),
    "keep shape": (lambda s: {"keep": s["in_mask"].T[:, :-1].copy()}, "array 'keep' has shape"),
    "NaN": (lambda s: {"outputs": _nan_outputs(s)}, "NaN or infinite values (model 2"),
    "integer outputs": (lambda s: {"outputs": s["outputs"].astype(np.int64)}, "array 'outputs' has type int64"),
    "class count": (lambda s: {"outputs": np.concatenate([s["outputs"], s["outputs"][:, :, :1]], axis=2).astype(np.float32)}, "but the data has 2 classes"),
    "kind": (lambda s: {"kind": np.array("scores")}, "array 'kind' is"),
    "probabilities out of range": (lambda s: {"outputs": (s["outputs"] * 3).astype(np.float32)}, "outside [0, 1]"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_are_refused_in_one_line(tmp_path, trained, case):
    _, seen = trained
    change, message = HOSTILE[case]
    path = _hostile(tmp_path, seen, **change(seen))
    with pytest.raises((DataError, ConfigError)) as caught:
        load_reference_outputs(path, n_classes=2)
    text = str(caught.value)
    assert message in text and str(path) in text and "\n" not in text


def test_ids_must_match_the_data(folder, tmp_path, trained):
    from privaudit.pipeline.inputs import load_data

    _, seen = trained
    config, base = load_config(folder / "precomputed.yaml")
    data = load_data(config.data, base)
    ids = np.asarray(seen["ids"]).astype(str)
    short = _hostile(tmp_path, seen, record_ids=ids[1:], keep=seen["in_mask"].T[:, 1:].copy(), outputs=seen["outputs"][:, 1:].astype(np.float32))
    with pytest.raises(DataError, match=rf"record_ids has no row for 1 of the audited and population records \(e.g. id '{ids[0]}'\)"):
        check_reference_ids(load_reference_outputs(short), data)
    extra = _hostile(tmp_path, seen, record_ids=np.r_[ids, ["stranger"]], keep=np.c_[seen["in_mask"].T, np.zeros(4, bool)],
                     outputs=np.concatenate([seen["outputs"], seen["outputs"][:, :1]], axis=1).astype(np.float32))
    with pytest.raises(DataError, match=r"lists 1 ids that are not audited or population records of the data \(e.g. 'stranger'\)"):
        check_reference_ids(load_reference_outputs(extra), data)


def test_cli_refuses_a_bad_file_in_one_line_with_a_nonzero_exit(folder, trained, tmp_path):
    _, seen = trained
    config = yaml.safe_load((folder / "precomputed.yaml").read_text())
    config["data"]["path"] = str(folder / "records.csv")
    config["targets"][0]["path"] = str(folder / "tree.skops")
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    _hostile(tmp_path, seen, keep=seen["in_mask"].T.astype(np.uint8))
    proc = subprocess.run([sys.executable, "-m", "privaudit.cli", "audit", str(tmp_path / "audit.yaml"), "-q"], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "array 'keep' has type uint8, not bool" in lines[0] and "Traceback" not in proc.stderr


def test_config_refuses_training_keys_beside_outputs(folder):
    from privaudit.config import parse_config

    raw = yaml.safe_load((folder / "precomputed.yaml").read_text())
    raw["targets"][0]["reference"] = {"outputs": "refs.npz", "models": 8}
    with pytest.raises(ConfigError, match="reference.outputs gives models trained elsewhere .* so models does not apply; remove it"):
        parse_config(raw)


def test_file_is_read_model_by_model_and_compressed_files_work_too(tmp_path, trained):
    _, seen = trained
    ids, keep, outputs = np.asarray(seen["ids"]).astype(str), seen["in_mask"].T.copy(), seen["outputs"].astype(np.float32)
    save_reference_outputs(tmp_path / "plain.npz", ids, keep, outputs, seen["kind"])
    np.savez_compressed(tmp_path / "packed.npz", record_ids=ids, keep=keep, outputs=outputs, kind=np.array(seen["kind"]))
    for name in ("plain.npz", "packed.npz"):
        refs = load_reference_outputs(tmp_path / name, n_classes=2)
        assert refs.outputs is None and refs.shape == outputs.shape  # nothing of K × n × C kept after the check
        read = refs.model_reader()
        for k in range(outputs.shape[0]):
            np.testing.assert_array_equal(read(k), outputs[k])


def test_a_compressed_file_is_inflated_one_model_at_a_time_in_any_order(tmp_path):
    import tracemalloc

    rng = np.random.default_rng(0)
    n_models, n, classes = 8, 20_000, 10
    outputs = rng.dirichlet(np.ones(classes), size=(n_models, n)).astype(np.float32)  # 6.4 MB in all, 0.8 MB per model
    ids = np.array([f"r{i}" for i in range(n)])
    keep = rng.random((n_models, n)) < 0.5
    np.savez_compressed(tmp_path / "packed.npz", record_ids=ids, keep=keep, outputs=outputs, kind=np.array("probabilities"))
    tracemalloc.start()
    try:
        refs = load_reference_outputs(tmp_path / "packed.npz", n_classes=classes)
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        read = refs.model_reader()
        order = (0, 1, 5, 2, 7, 7, 0)  # in order, skipping ahead, back again (the stream restarts)
        same = [bool(np.array_equal(read(k), outputs[k])) for k in order]
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert same == [True] * len(order)
    assert peak < 1.6 * outputs[0].nbytes < outputs.nbytes / 4  # one model at a time (read whole: all eight, 6.4 MB)


def test_a_damaged_compressed_file_is_refused_in_one_line(tmp_path):
    import zipfile

    rng = np.random.default_rng(1)
    outputs = rng.dirichlet(np.ones(3), size=(4, 5_000)).astype(np.float32)
    ids = np.array([f"r{i}" for i in range(5_000)])
    path = tmp_path / "packed.npz"
    np.savez_compressed(path, record_ids=ids, keep=rng.random((4, 5_000)) < 0.5, outputs=outputs, kind=np.array("probabilities"))
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("outputs.npy")
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    middle = start + info.compress_size // 2
    raw[middle:middle + 64] = bytes(64)  # zero 64 bytes in the middle of the deflated numbers
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"packed\.npz: array 'outputs' (cannot be inflated|cannot be read|is cut short)"):
        load_reference_outputs(path, n_classes=3)


def test_a_format_3_member_is_named_as_such(tmp_path, trained):
    """numpy writes .npy format 3.0 (a UTF-8 header) only for structured types with non-Latin-1 field names: refused
    in one line saying so (it used to read as 'an unreadable .npy header')."""
    import io

    _, seen = trained
    ids, keep, outputs = np.asarray(seen["ids"]).astype(str), seen["in_mask"].T.copy(), seen["outputs"].astype(np.float32)
    structured = np.zeros(ids.size, dtype=[("\u00e9t\u0113", "<f4")])  # ē is not Latin-1: numpy must write format 3.0
    buffer = io.BytesIO()
    with pytest.warns(UserWarning, match="format 3.0"):
        np.save(buffer, structured)
    assert buffer.getvalue()[6:8] == bytes([3, 0])
    path = _npz_with_member(tmp_path / "v3.npz", {"record_ids": ids, "keep": keep, "outputs": outputs, "kind": np.array(seen["kind"])},
                            "record_ids", buffer.getvalue())
    with pytest.raises(DataError, match=r"v3\.npz: array 'record_ids' is a \.npy format 3\.0 array .*; save plain numbers"):
        load_reference_outputs(path, n_classes=2)


def _npz_with_member(path: Path, arrays: dict, name: str, member: bytes, compress: bool = False) -> Path:
    """An .npz of ``arrays`` whose ``name.npy`` member is replaced by raw ``member`` bytes."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            if key == name:
                archive.writestr(f"{key}.npy", member)
                continue
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, value)
            archive.writestr(f"{key}.npy", buffer.getvalue())
    return path


def _header(shape, dtype) -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape})
    return buffer.getvalue()


@pytest.mark.parametrize("name, shape, dtype", [("record_ids", (10**11,), "<U10"), ("keep", (4, 10**11), "|b1"), ("outputs", (4, 900, 2), "<f4")])
def test_a_header_claiming_more_than_is_stored_is_refused_before_allocating(tmp_path, trained, name, shape, dtype):
    _, seen = trained
    arrays = {"record_ids": np.asarray(seen["ids"]).astype(str), "keep": seen["in_mask"].T.copy(), "outputs": seen["outputs"].astype(np.float32),
              "kind": np.array(seen["kind"])}
    path = _npz_with_member(tmp_path / "refs.npz", arrays, name, _header(shape, dtype) + b"\0" * 100)
    with pytest.raises(DataError) as caught:
        load_reference_outputs(path, n_classes=2)
    text = str(caught.value)
    assert f"array '{name}' has a header declaring shape {shape}" in text and "100 bytes of data are stored" in text and "\n" not in text


def test_a_compressed_bomb_of_ids_is_refused_from_its_header(tmp_path, trained):
    _, seen = trained
    arrays = {"record_ids": np.asarray(seen["ids"]).astype(str), "keep": seen["in_mask"].T.copy(), "outputs": seen["outputs"].astype(np.float32),
              "kind": np.array(seen["kind"])}
    n_ids = 5_000_000  # 200 MB of zeros that deflate to ~200 kB
    path = _npz_with_member(tmp_path / "refs.npz", arrays, "record_ids", _header((n_ids,), "<U10") + bytes(n_ids * 40), compress=True)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(DataError, match=r"array 'record_ids' lists 5,000,000 ids but the data has only 900 audited and population records"):
        load_reference_outputs(path, n_classes=2, n_records=900)


def test_an_empty_file_is_named(tmp_path):
    (tmp_path / "refs.npz").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"refs.npz is not a numpy .npz archive"):
        load_reference_outputs(tmp_path / "refs.npz")


@pytest.mark.parametrize("theirs, ours", [("7", "007"), ("a1 ", "a1"), ("cafe\u0301", "caf\u00e9"), ("REC-1", "rec-1")])
def test_ids_written_differently_are_refused_naming_the_difference(theirs, ours):
    import pandas as pd

    from privaudit.data import RecordSet
    from privaudit.reference.precomputed import PrecomputedReferences
    from privaudit.targets.precomputed import PrecomputedTarget

    refs = PrecomputedReferences(np.array([theirs, "other"]), np.zeros((1, 2), bool), None, "probabilities", "refs.npz")
    with pytest.raises(DataError) as caught:
        refs.rows_for(np.array([ours, "other"]))
    assert f"(id {ours!r} is written {theirs!r} there: ids are matched exactly as written" in str(caught.value)
    table = pd.DataFrame({"record_id": [theirs, "other"], "0": [0.5, 0.5], "1": [0.5, 0.5]})
    target = PrecomputedTarget(table, name="t", source="outputs.csv")
    records = RecordSet(np.array([ours, "other"]), pd.DataFrame({"x": [0.0, 1.0]}), np.array([0, 1]), (0, 1))
    with pytest.raises(DataError, match=rf"no outputs for 1 audited records .*is written {theirs!r} there"):
        target.predict(records)
    assert refs.rows_for(np.array(["other"])).tolist() == [1]  # exact ids still match


def test_ids_that_differ_otherwise_get_no_false_hint():
    from privaudit.data_files import id_near_miss

    assert id_near_miss(["17"], ["7", "170"]) == "" and id_near_miss(["a b"], ["ab"]) == ""


def test_command_line_overrides_keep_a_precomputed_reference_block(folder):
    from privaudit.config import with_reference_overrides

    config, _ = load_config(folder / "precomputed.yaml")
    for options in ({"backend": "ray"}, {"ray_address": "127.0.0.1:6379"}, {"backend": "process"}):
        changed = with_reference_overrides(config, **options)  # was refused: the dumped defaults looked like training keys
        assert changed.targets[0].reference.outputs == "refs.npz" and changed.targets[0].reference.model_fields_set == {"outputs"}
    with pytest.raises(ConfigError, match=r"--reference-models: targets.tree.reference.outputs gives models trained elsewhere .*leave the option out"):
        with_reference_overrides(config, models=8)


def test_check_with_a_precomputed_online_file_does_not_claim_population_only_training(folder, trained, tmp_path):
    import pandas as pd

    records = pd.read_csv(folder / "records.csv")
    records[records.split == "member"].head(3).drop(columns=["split"]).to_csv(tmp_path / "check.csv", index=False)
    proc = subprocess.run([sys.executable, "-m", "privaudit.cli", "check", str(folder / "precomputed.yaml"), "--records", str(tmp_path / "check.csv"),
                           "--attack", "lira"], capture_output=True, text=True, timeout=300)
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 0, proc.stderr
    assert "on population records only" not in said
    assert "trained on some audited records (their keep masks); the offline attack reads, for each checked record, only the models" in said


def test_a_reference_file_outside_the_config_folder_leaves_no_local_path_in_the_report(folder, trained, tmp_path):
    import shutil

    elsewhere = tmp_path / "private-store-xyz"
    elsewhere.mkdir()
    shutil.copy(folder / "refs.npz", elsewhere / "refs.npz")
    config = yaml.safe_load((folder / "precomputed.yaml").read_text())
    config["data"]["path"] = str(folder / "records.csv")
    config["targets"][0]["path"] = str(folder / "tree.skops")
    config["targets"][0]["reference"] = {"outputs": str(elsewhere / "refs.npz")}
    (tmp_path / "audit").mkdir()
    (tmp_path / "audit" / "audit.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run([sys.executable, "-m", "privaudit.cli", "audit", str(tmp_path / "audit" / "audit.yaml"), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "audit" / "report" / "report.json").read_text()
    assert "private-store-xyz" not in report and "outputs from refs.npz" in report
    assert "private-store-xyz" not in (tmp_path / "audit" / "report" / "report.html").read_text()


def test_a_compressed_member_inflating_a_thousandfold_is_refused_unread(tmp_path, trained):
    _, seen = trained
    arrays = {"record_ids": np.asarray(seen["ids"]).astype(str), "keep": seen["in_mask"].T.copy(), "kind": np.array(seen["kind"]),
              "outputs": seen["outputs"].astype(np.float32)}
    k = 40_000  # 40,000 models × 900 records × 2 classes of zeros: 288 MB that deflate to ~280 kB
    path = _npz_with_member(tmp_path / "refs.npz", arrays, "outputs", _header((k, 900, 2), "<f4") + bytes(k * 900 * 2 * 4), compress=True)
    with pytest.raises(DataError, match=r"array 'outputs' inflates from [\d,]+ to [\d,]+ bytes \([\d,]+×, a zip bomb\?\)"):
        load_reference_outputs(path, n_classes=2, n_records=900)


def test_a_folder_is_named_as_a_folder(tmp_path):
    (tmp_path / "refs.npz").mkdir()
    with pytest.raises(ConfigError, match=r"refs.npz is a folder; give the .npz file in it"):
        load_reference_outputs(tmp_path / "refs.npz")


def test_an_online_check_with_a_reference_file_is_refused_before_any_design(folder, trained, tmp_path):
    import pandas as pd

    records = pd.read_csv(folder / "records.csv")
    records[records.split == "member"].head(3).drop(columns=["split"]).to_csv(tmp_path / "check.csv", index=False)
    proc = subprocess.run([sys.executable, "-m", "privaudit.cli", "check", str(folder / "precomputed.yaml"), "--records", str(tmp_path / "check.csv"),
                           "--mode", "online"], capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0 and len(lines) == 1 and "Traceback" not in proc.stderr
    assert "reference.outputs: --mode online trains reference models with the checked records inside" in lines[0]


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_a_file_rewritten_after_its_checks_is_refused_not_read(tmp_path, save):
    """The checks ran on the file as loaded; a file rewritten before the models are read (here: the same ids in another order,
    so each row would be scored as another record's) is refused in one line, never read unchecked."""
    import os

    rng = np.random.default_rng(3)
    outputs = rng.dirichlet(np.ones(3), size=(3, 400)).astype(np.float32)
    ids = np.array([f"r{i}" for i in range(400)])
    keep = rng.random((3, 400)) < 0.5
    path = tmp_path / "refs.npz"
    save(path, record_ids=ids, keep=keep, outputs=outputs, kind=np.array("probabilities"))
    refs = load_reference_outputs(path, n_classes=3)
    order = rng.permutation(400)
    save(path, record_ids=ids[order], keep=keep[:, order], outputs=outputs[:, order], kind=np.array("probabilities"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a coarse clock could otherwise give the same time
    with pytest.raises(DataError) as caught:
        refs.model_reader()
    assert f"{path}: array 'outputs' changed while privaudit ran" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_a_model_reader_takes_numpy_indices(tmp_path, save):
    rng = np.random.default_rng(4)
    outputs = rng.dirichlet(np.ones(3), size=(3, 50)).astype(np.float32)
    path = tmp_path / "refs.npz"
    save(path, record_ids=np.arange(50), keep=rng.random((3, 50)) < 0.5, outputs=outputs, kind=np.array("probabilities"))
    read = load_reference_outputs(path, n_classes=3).model_reader()
    for k in (-1, 2, -3, 0):
        np.testing.assert_array_equal(read(k), outputs[k])
    for k in (3, -4):
        with pytest.raises(IndexError):
            read(k)


def _claim_sizes(path: Path, name: str, *, file_size: int | None = None, compress_size: int | None = None) -> Path:
    """Edit the central directory entry of ``name`` to claim other sizes (what a hand-edited or damaged zip can say)."""
    import struct

    raw = bytearray(path.read_bytes())
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46:at + 46 + length] == name.encode():
            packed, size = struct.unpack_from("<II", raw, at + 20)
            struct.pack_into("<II", raw, at + 20, packed if compress_size is None else compress_size, size if file_size is None else file_size)
        at = raw.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(raw))
    return path


def _small_arrays(n_models=3, n=200):
    rng = np.random.default_rng(5)
    return {"record_ids": np.array([f"r{i}" for i in range(n)]), "keep": rng.random((n_models, n)) < 0.5,
            "outputs": rng.dirichlet(np.ones(2), size=(n_models, n)).astype(np.float32), "kind": np.array("probabilities")}


def test_a_member_shorter_than_its_zip_entry_says_is_named_as_cut_short_not_as_python_objects(tmp_path):
    arrays = _small_arrays()
    full = _header((3, 200), "|b1")
    path = _npz_with_member(tmp_path / "refs.npz", arrays, "keep", full + bytes(500), compress=True)  # 600 numbers declared, 500 stored
    _claim_sizes(path, "keep.npy", file_size=len(full) + 600)
    with pytest.raises(DataError) as caught:
        load_reference_outputs(path, n_classes=2)
    text = str(caught.value)
    assert f"{path}: array 'keep' cannot be read" in text and "Python objects" not in text and "\n" not in text


def test_a_zip_entry_claiming_more_bytes_than_the_file_holds_is_refused_before_allocating(tmp_path):
    """A directory entry may not claim a packed size beyond the file: with it, the thousandfold bomb check would pass a
    header declaring 1.2 GB of outputs (and 600 MB of keep, which numpy would allocate) in a file of a few kB."""
    import tracemalloc

    import io
    import zipfile

    arrays = _small_arrays()
    n_models = 2_000_000
    outputs_header, keep_header = _header((n_models, 200, 2), "<f4"), _header((n_models, 200), "|b1")
    path = tmp_path / "refs.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in ("record_ids", "kind"):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, arrays[name])
            archive.writestr(f"{name}.npy", buffer.getvalue())
        archive.writestr("keep.npy", keep_header + arrays["keep"].tobytes())
        archive.writestr("outputs.npy", outputs_header + arrays["outputs"].tobytes())
    declared = n_models * 200 * 2 * 4
    _claim_sizes(path, "outputs.npy", file_size=len(outputs_header) + declared, compress_size=declared // 999)
    _claim_sizes(path, "keep.npy", file_size=len(keep_header) + n_models * 200)
    assert path.stat().st_size < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as caught:
            load_reference_outputs(path, n_classes=2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"{path}: array 'outputs' " in str(caught.value) and "packed bytes, more than the whole file" in str(caught.value)
    assert peak < 50 * 2**20
