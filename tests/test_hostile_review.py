"""Bad-input battery, cases found by a hostile review of issues 12 and 13 (see each test's docstring)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from hostile import assert_one_line_error, run_cli

sys.path.insert(0, str(Path(__file__).parent))


def test_untrusted_config_cannot_send_other_environment_variables_to_its_url(tmp_path):
    """headers_from_env: {Authorization: GITHUB_TOKEN} in someone else's config sent the user's GitHub token to
    whatever url the config named. Without trust_code only PRIVAUDIT_* variables are read; refused before any connection."""
    pytest.importorskip("httpx")
    from test_hostile_http import _audit, _config

    from http_faults import FaultServer

    with FaultServer("ok") as server:
        config = _config(tmp_path / "audit", f"http://127.0.0.1:{server.port}/predict", headers_from_env={"Authorization": "GITHUB_TOKEN"})
        outcome = _audit(config, env={"GITHUB_TOKEN": "ghp_review0secret0value"})
        assert server.requests == 0
    line = assert_one_line_error(outcome, code=2, names=["headers_from_env.Authorization", "GITHUB_TOKEN", "PRIVAUDIT_", "trust_code"])
    assert "ghp_review0secret0value" not in outcome.err + outcome.out + line
    # trusted (the user read the config and its url): the variable is read and sent
    with FaultServer("ok") as server:
        config = _config(tmp_path / "trusted", f"http://127.0.0.1:{server.port}/predict", headers_from_env={"Authorization": "GITHUB_TOKEN"})
        outcome = run_cli(["audit", config, "-q", "--trust-code"], env={"GITHUB_TOKEN": "Bearer ghp_review0secret0value"})
        assert outcome.code == 0, outcome.err
        assert server.requests > 0


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/null"])
def test_model_card_out_refuses_a_device_or_pipe(tmp_path, special):
    """model-card --out FIFO hung forever (the ownership check opened it to read its first lines); --out /dev/zero
    read without end into memory; with --force, as root, the card would be renamed over the device."""
    import os

    from test_hostile_gate import _report, _write

    report = _write(tmp_path, _report())
    if special == "fifo":
        special = tmp_path / "card.md"
        os.mkfifo(special)
    elif not Path(special).exists():
        pytest.skip(f"{special} missing")
    for force in ([], ["--force"]):
        outcome = run_cli(["model-card", report, "--out", special, *force])
        assert_one_line_error(outcome, code=2, names=["--out", "not a regular file"])
    assert not Path(special).is_file()


def test_sweep_dp_note_does_not_call_a_heuristic_epsilon_above_dp_a_bug():
    """A sweep never randomises membership, so its ε figures are heuristic estimates, maximised over attacks without
    correction; the DP note still said "An ε lower bound above it would mean a bug in training or accounting"."""
    from privaudit.sweep.summary import _notes

    heuristic = {"attack": "loss", "epsilon_lb": {"value": 2.0, "label": "heuristic estimate", "valid": False, "method": "x"}}
    rows = [{"attacks": [heuristic], "dp": {"epsilon": 1.0}}]
    notes = " ".join(_notes(rows, {"n_nonmembers": 1000}, 0.01, 0.95, 1e-5, 10))
    assert "would mean a bug" not in notes and "not proof of a bug" in notes
    valid = {**heuristic, "epsilon_lb": {**heuristic["epsilon_lb"], "label": "lower bound", "valid": True}}
    notes = " ".join(_notes([{"attacks": [valid], "dp": {"epsilon": 1.0}}], {"n_nonmembers": 1000}, 0.01, 0.95, 1e-5, 10))
    assert "would mean a bug" in notes


def test_near_miss_id_error_shows_plain_strings(tmp_path):
    """The near-miss id error printed numpy's repr: "which has np.str_('r0199')"."""
    import numpy as np
    import pandas as pd

    ids = [f"r{i:03d}" for i in range(60)]
    pd.DataFrame({"record_id": ids, "a": np.arange(60.0), "y": np.arange(60) % 2}).to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "m.txt").write_text("\n".join(ids[:29] + ["R029"]) + "\n")
    (tmp_path / "n.txt").write_text("\n".join(ids[30:]) + "\n")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"data": {"path": "data.csv", "label": "y", "id_column": "record_id",
                                               "membership": {"members": "m.txt", "nonmembers": "n.txt"}},
                                      "targets": [{"name": "t", "type": "precomputed", "path": "missing.csv"}]}))
    line = assert_one_line_error(run_cli(["audit", config]), code=2, names=["m.txt", "'R029'", "'r029'"])
    assert "np.str_" not in line


def _data_config(folder: Path, **data) -> Path:
    import numpy as np
    import pandas as pd

    n = 60
    pd.DataFrame({"record_id": [f"r{i:03d}" for i in range(n)], "a": np.arange(n) / n, "b": np.arange(n) % 7, "y": np.arange(n) % 2,
                  "split": ["member", "nonmember"] * (n // 2)}).to_csv(folder / "data.csv", index=False)
    spec = {"path": "data.csv", "label": "y", "id_column": "record_id", "membership": {"column": "split"}, **data}
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump({"data": spec, "targets": [{"name": "t", "type": "precomputed", "path": "outputs.csv"}]}))
    return config


@pytest.mark.parametrize("features, names", [
    (["a", "b", "b"], ["data.features", "'b'", "more than once"]),  # was: TypeError traceback from pandas
    ([], ["data.features", "empty"]),  # was: "at least one array or dtype is required" from deep inside the target
])
def test_feature_lists_that_name_nothing_or_a_column_twice(tmp_path, features, names):
    assert_one_line_error(run_cli(["audit", _data_config(tmp_path, features=features)]), code=2, names=["config.yaml", *names])


def test_class_mismatch_error_is_short_and_plain(tmp_path):
    """Labelling by the id column listed all 60+ labels with numpy reprs ("np.int64(0)") in one line."""
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    config = _data_config(tmp_path, label="record_id", features=["a", "b"])
    sio.dump(LogisticRegression().fit(pd.DataFrame({"a": np.arange(6.0), "b": np.arange(6.0)}), np.arange(6) % 2), tmp_path / "m.skops")
    config.write_text(config.read_text().replace("type: precomputed", "type: sklearn").replace("outputs.csv", "m.skops"))
    line = assert_one_line_error(run_cli(["audit", config]), code=2, names=["model classes [0, 1]", "(60 in all)"])
    assert "np.int64" not in line and len(line) < 400


def test_reference_store_refuses_a_folder_it_did_not_make(tmp_path):
    """compute.store naming an existing folder of the user's (say the home folder) wrote the store there, and
    clean_temporary() deleted (rmtree) every '.tmp-*' entry over a day old in it and in each of its sub-folders."""
    import os
    import time

    from privaudit.exceptions import OutputError
    from privaudit.reference.store import ReferenceStore

    home = tmp_path / "home"
    (home / "project" / ".tmp-build").mkdir(parents=True)
    (home / "notes.txt").write_text("mine")
    old = time.time() - 3 * 86400
    os.utime(home / "project" / ".tmp-build", (old, old))
    with pytest.raises(OutputError, match="not a privaudit reference store"):
        ReferenceStore(home).identity()
    assert (home / "project" / ".tmp-build").is_dir() and not (home / ".privaudit-store.json").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="a file, not a folder"):
        ReferenceStore(tmp_path / "file").identity()
    fresh = ReferenceStore(tmp_path / "new")  # a new folder, and then the store it became, are fine
    assert fresh.identity() == ReferenceStore(tmp_path / "new").identity()
    (tmp_path / "empty").mkdir()
    ReferenceStore(tmp_path / "empty").identity()


def test_audit_with_a_foreign_store_folder_is_one_line(tmp_path):
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    config = _data_config(tmp_path, features=["a", "b"])
    sio.dump(LogisticRegression().fit(pd.DataFrame({"a": np.arange(6.0), "b": np.arange(6.0)}), np.arange(6) % 2), tmp_path / "m.skops")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep")
    raw = yaml.safe_load(config.read_text())
    raw["targets"] = [{"name": "t", "type": "sklearn", "path": "m.skops", "reference": {"models": 2}}]
    raw.update(attacks=[{"name": "lira"}], compute={"store": "mine", "backend": "sequential"}, metrics={"bootstrap": 50})
    config.write_text(yaml.safe_dump(raw))
    assert_one_line_error(run_cli(["audit", config, "-q"]), code=2, names=["compute.store", "mine", "new or empty folder"])
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["thesis.tex"]


@pytest.mark.parametrize("command", ["gate", "model-card"])
def test_oversized_report_is_refused_before_it_is_read_whole(tmp_path, command, monkeypatch):
    """A 3 GB report.json of zeros ended in a MemoryError traceback (gate and model-card read it whole)."""
    import privaudit.report_document as document

    monkeypatch.setattr(document, "MAX_REPORT_BYTES", 1 << 10)
    (tmp_path / "report.json").write_bytes(b" " * (2 << 10))
    argv = [command, tmp_path / "report.json"] + (["--max-auc", "0.6"] if command == "gate" else [])
    assert_one_line_error(run_cli(argv), code=2, names=["report.json", "MiB"])


def test_a_table_that_does_not_fit_in_memory_is_one_line(tmp_path, monkeypatch):
    """A 6.5 MB .csv.gz expanding to 1.5 GB (below the 4 GiB cap) ended in a MemoryError traceback under a 2.5 GB limit."""
    import privaudit.data_files as data_files

    config = _data_config(tmp_path)
    real = data_files._check_text

    def exhausted(path, data):
        if path.name == "data.csv":
            raise MemoryError
        return real(path, data)

    monkeypatch.setattr(data_files, "_check_text", exhausted)
    assert_one_line_error(run_cli(["audit", config]), code=1, names=["data.csv", "does not fit in memory"])


@pytest.mark.parametrize("planted", ["fifo", "symlink to /dev/zero"])
def test_a_lock_that_is_not_a_regular_file_does_not_hang(tmp_path, planted):
    """A FIFO named .privaudit.lock in the output folder made the audit block forever reading it."""
    import os

    out = tmp_path / "out"
    out.mkdir()
    lock = out / ".privaudit.lock"
    if planted == "fifo":
        os.mkfifo(lock)
    else:
        os.symlink("/dev/zero", lock)
    outcome = run_cli(["audit", _data_config(tmp_path), "--out", out])
    assert_one_line_error(outcome, code=2, names=[".privaudit.lock", "unreadable"])


def test_a_fifo_named_manifest_json_does_not_hang(tmp_path):
    """A FIFO named manifest.json in the output folder made the ownership check block forever reading it."""
    import os

    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "manifest.json")
    assert_one_line_error(run_cli(["audit", _data_config(tmp_path), "--out", out]), code=2, names=["--out", "not empty", "--force"])


def test_a_fifo_in_the_http_cache_is_an_error_not_a_hang(tmp_path):
    import os

    from privaudit.exceptions import DataError
    from privaudit.targets.http_cache import ResponseCache

    cache = ResponseCache(tmp_path)
    os.mkfifo(cache.path("k"))
    with pytest.raises(DataError, match="not a regular file"):
        cache.load("k", n_records=1, output_kind="probabilities")


def test_too_few_records_verdict_counts_one_member_in_the_singular(tmp_path):
    import pandas as pd

    config = _data_config(tmp_path)
    data = pd.read_csv(tmp_path / "data.csv")
    data["split"] = ["member"] + ["nonmember"] * (len(data) - 1)
    data.to_csv(tmp_path / "data.csv", index=False)
    pd.DataFrame({"record_id": data["record_id"], "0": 0.4, "1": 0.6}).to_csv(tmp_path / "outputs.csv", index=False)
    outcome = run_cli(["audit", config, "--out", tmp_path / "out"])
    assert outcome.code == 0, outcome.err
    assert "Too few records to conclude: 1 member, 59 non-members" in " ".join(outcome.out.split())


def test_an_uncompressed_table_over_the_cap_is_refused_before_it_is_read(tmp_path, monkeypatch):
    """The 4 GiB cap applied only to what a .gz expands to: a plain CSV of any size was read whole first."""
    import privaudit.data_files as data_files

    config = _data_config(tmp_path)
    monkeypatch.setattr(data_files, "MAX_TABLE_BYTES", 100)
    read_bytes = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} was read") if self.name == "data.csv" else read_bytes(self))
    assert_one_line_error(run_cli(["audit", config]), code=2, names=["data.csv", "larger than"])
