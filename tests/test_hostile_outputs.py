"""Bad-input battery, issue 13 items 4 and 6: outputs are atomic, locked and owned; CSV cells are spreadsheet-safe.

Every command that writes a folder refuses a user's non-empty folder (nothing
changed) unless ``--force``, which still leaves unrelated files alone; a crash
while rendering leaves the previous report exactly; two runs into one folder
never mix; ids and texts that start a spreadsheet formula are escaped while
negative scores stay numbers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.pool import ThreadPool
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile import assert_one_line_error, assert_unchanged, run_cli, snapshot
from privaudit.csv_output import csv_bytes, spreadsheet_safe_cell
from privaudit.exceptions import OutputError
from privaudit.output_folder import LOCK_FILE, TEMPORARY_PREFIX, OutputFolder, read_manifest, verify_manifest

N = 240
HOSTILE_IDS = ["=cmd|' /C calc'!A0", "+1", "-1+2", "@SUM(1)", "\t=1"]


def _write_audit(folder: Path, ids: list[str] | None = None, seed: int = 0) -> Path:
    """Records and a leaking precomputed target (probabilities) with a tiny audit config; returns the config path."""
    rng = np.random.default_rng(seed)
    ids = ids or [f"rec-{i:04d}" for i in range(N)]
    labels = rng.integers(0, 2, len(ids))
    member = np.arange(len(ids)) % 3 == 0
    p_true = 1 / (1 + np.exp(-(rng.normal(0.5, 1.0, len(ids)) + 1.5 * member)))
    p1 = np.where(labels == 1, p_true, 1 - p_true)
    split = np.where(member, "member", "nonmember")
    pd.DataFrame({"record_id": ids, "x": rng.normal(size=len(ids)), "label": labels, "split": split}).to_csv(folder / "records.csv", index=False)
    pd.DataFrame({"record_id": ids, "0": 1 - p1, "1": p1}).to_csv(folder / "outputs.csv", index=False)
    config = {
        "seed": seed,
        "data": {"path": "records.csv", "label": "label", "id_column": "record_id", "membership": {"column": "split"}},
        "targets": [{"name": "vendor", "type": "precomputed", "path": "outputs.csv", "outputs": "probabilities"}],
        "attacks": ["loss"],
        "metrics": {"bootstrap": 50, "fprs": [0.1]},
        "output": "report",
    }
    path = folder / "audit.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def config_path(tmp_path_factory) -> Path:
    return _write_audit(tmp_path_factory.mktemp("audit"))


@pytest.fixture()
def user_folder(tmp_path) -> Path:
    """A folder of the user's own files, some with the names privaudit writes."""
    folder = tmp_path / "mine"
    (folder / "models").mkdir(parents=True)
    (folder / "config.yaml").write_text("my: own config\n")
    (folder / "scores.csv").write_text("my,own\n1,2\n")
    (folder / "models" / "training.json").write_text('{"mine": true}\n')
    (folder / "notes.txt").write_text("do not lose me\n")
    (folder / "README.md").write_text("# My model\n")
    return folder


def _commands(config_path: Path, tmp_path: Path, out: Path) -> dict[str, list[str]]:
    texts, other_texts = tmp_path / "texts.txt", tmp_path / "other-texts.txt"
    texts.write_text("one text\nanother text\n")
    other_texts.write_text("a third text\na fourth text\n")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "seed": 0, "data": {"path": str(config_path.parent / "records.csv"), "label": "label", "id_column": "record_id", "membership": {"column": "split"}},
        "settings": [{"name": "base"}], "output": "out"}))
    return {
        "audit": ["audit", config_path, "--out", out, "-q"],
        "demo": ["demo", "--out", out, "--reference-models", "0", "-q"],
        "check": ["check", config_path, "--out", out, "--record", "x=1", "--record", "label=1", "-q"],
        "text-audit": ["text-audit", "--model", tmp_path / "no-model", "--members", texts, "--nonmembers", other_texts, "--out", out, "-q"],
        "sweep": ["sweep", sweep, "--out", out, "-q"],
        "sweep --example": ["sweep", out, "--example", "adult"],
    }


@pytest.mark.parametrize("command", ["audit", "demo", "check", "text-audit", "sweep", "sweep --example"])
def test_a_users_nonempty_folder_is_refused_and_left_exactly_as_it_was(config_path, tmp_path, user_folder, command):
    before = snapshot(user_folder)
    outcome = run_cli(_commands(config_path, tmp_path, user_folder)[command])
    assert_one_line_error(outcome, code=2, names=[str(user_folder), "--force", "privaudit did not create it"])
    assert snapshot(user_folder) == before  # nothing changed, nothing added (no lock, no manifest)


def test_demo_does_not_overwrite_an_edited_config_in_its_own_folder(tmp_path):
    folder = tmp_path / "demo"
    with OutputFolder(folder, command="demo", names=["config.yaml"]) as out:  # as `privaudit demo` left it
        out.write_text("config.yaml", "seed: 0\n")
    (folder / "config.yaml").write_text("seed: 0  # my edit\n")
    before = snapshot(folder)
    outcome = run_cli(["demo", "--out", folder, "--reference-models", "0", "-q"])
    assert_one_line_error(outcome, code=2, names=["config.yaml", "changed since privaudit wrote it", "--force"])
    assert snapshot(folder) == before


def test_force_writes_the_report_but_leaves_the_users_other_files_alone(config_path, user_folder):
    before = snapshot(user_folder)
    outcome = run_cli(["audit", config_path, "--out", user_folder, "--force", "-q"])
    assert outcome.code == 0, outcome.err
    changed = {name for name in before if snapshot(user_folder).get(name) != before[name]}
    assert changed == {"scores.csv"}  # the one name the audit writes; config.yaml, notes, models/ untouched
    manifest = read_manifest(user_folder)
    assert sorted(manifest["files"]) == ["claims.md", "report.html", "report.json", "scores.csv"] and verify_manifest(user_folder) == []
    outcome = run_cli(["audit", config_path, "--out", user_folder, "-q"])  # now privaudit's folder: a rerun needs no --force
    assert outcome.code == 0, outcome.err
    assert_unchanged({k: v for k, v in before.items() if k != "scores.csv"}, user_folder)


def test_rerun_into_its_own_folder_replaces_its_files_under_a_new_run_id(config_path, tmp_path):
    out = tmp_path / "report"
    assert run_cli(["audit", config_path, "--out", out, "-q"]).code == 0
    first = read_manifest(out)
    assert run_cli(["audit", config_path, "--out", out, "-q"]).code == 0
    second = read_manifest(out)
    assert first["run_id"] != second["run_id"] and second["state"] == "complete"
    assert {entry["run_id"] for entry in second["files"].values()} == {second["run_id"]}
    assert verify_manifest(out) == [] and not (out / LOCK_FILE).exists()
    assert not [p for p in out.iterdir() if p.name.startswith(TEMPORARY_PREFIX)]


@pytest.mark.parametrize("where", ["file", "under a file"])
@pytest.mark.parametrize("command", ["audit", "check", "text-audit", "sweep"])
def test_out_naming_a_file_is_one_line_exit_2(config_path, tmp_path, where, command):
    a_file = tmp_path / "a-file"
    a_file.write_text("keep\n")
    out = a_file if where == "file" else a_file / "report"
    outcome = run_cli(_commands(config_path, tmp_path, out)[command])
    assert_one_line_error(outcome, code=2, names=["--out", "a-file"])
    assert a_file.read_text() == "keep\n"


def test_out_in_a_folder_that_cannot_be_written_is_exit_1_naming_it(config_path, tmp_path):
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        out = locked / "report"
        if os.access(locked, os.W_OK):  # root ignores permissions: /sys refuses even root (EPERM)
            out = Path("/sys/privaudit-hostile-test")
            try:
                out.mkdir()
            except PermissionError:
                pass
            else:  # pragma: no cover - a system where /sys is writable
                out.rmdir()
                pytest.skip("no folder here refuses writes to this user (root, writable /sys)")
        outcome = run_cli(["audit", config_path, "--out", out, "-q"])
        assert_one_line_error(outcome, code=1, names=["--out", str(out), "cannot be written"])
    finally:
        locked.chmod(0o700)


def test_a_crash_while_drawing_the_html_leaves_the_previous_report_exactly(config_path, tmp_path, monkeypatch):
    import privaudit.report

    out = tmp_path / "report"
    assert run_cli(["audit", config_path, "--out", out, "-q"]).code == 0
    before = snapshot(out)

    def broken(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(privaudit.report, "render_html", broken)
    outcome = run_cli(["audit", config_path, "--out", out, "-q"])
    assert outcome.code != 0 and "renderer crashed" in (outcome.escaped or "")
    assert snapshot(out) == before  # old report.json, scores.csv, report.html, manifest; no temp files, no lock


def test_a_crash_in_a_new_folder_leaves_no_folder(config_path, tmp_path, monkeypatch):
    import privaudit.report

    monkeypatch.setattr(privaudit.report, "render_html", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("renderer crashed")))
    out = tmp_path / "new" / "report"
    run_cli(["audit", config_path, "--out", out, "-q"])
    assert not out.exists()


@pytest.fixture(scope="module")
def two_results(config_path):
    """Two audit results that differ in every file (seeds 0 and 1)."""
    from privaudit.pipeline import run_audit
    from privaudit.config import load_config

    config, base = load_config(config_path)
    return [run_audit(config.model_copy(update={"seed": seed}), base) for seed in (0, 1)]


def test_two_concurrent_writers_never_mix_16_of_16(two_results, tmp_path, monkeypatch):
    import privaudit.report
    from privaudit.report import write_report
    from privaudit.report.json_report import json_bytes, scores_csv_bytes

    original = privaudit.report.render_html

    def slow(*args, **kwargs):
        time.sleep(0.05)  # the writer holds the lock while drawing: the other run arrives meanwhile
        return original(*args, **kwargs)

    monkeypatch.setattr(privaudit.report, "render_html", slow)
    expected = [(json_bytes(r), scores_csv_bytes(r)) for r in two_results]
    refusals = 0
    for attempt in range(16):
        out = tmp_path / f"try{attempt}"
        barrier, errors = threading.Barrier(2), []

        def run(result):
            barrier.wait()
            try:
                write_report(result, out)
            except OutputError as exc:
                errors.append(str(exc))

        threads = [threading.Thread(target=run, args=(r,)) for r in two_results]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pair = ((out / "report.json").read_bytes(), (out / "scores.csv").read_bytes())
        assert pair in expected, f"try {attempt}: report.json and scores.csv come from different runs"
        assert verify_manifest(out) == [] and len({e["run_id"] for e in read_manifest(out)["files"].values()}) == 1
        assert not (out / LOCK_FILE).exists()
        for message in errors:
            assert f"pid {os.getpid()}" in message and str(out) in message and "in use by another privaudit run" in message
        refusals += len(errors)
    assert refusals >= 1  # the lock did refuse (not only serialised by luck)


def test_a_second_run_on_a_locked_folder_fails_at_once_naming_the_pid(config_path, tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / LOCK_FILE).write_text(json.dumps({"pid": 1, "host": socket.gethostname(), "command": "audit", "run_id": "other"}))
    before = snapshot(out)
    outcome = run_cli(["audit", config_path, "--out", out, "-q"])
    assert_one_line_error(outcome, code=2, names=[str(out), "pid 1", "in use by another privaudit run"])
    assert snapshot(out) == before


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_note(config_path, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "report"
    out.mkdir()
    (out / LOCK_FILE).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "command": "audit", "run_id": "gone"}))
    outcome = run_cli(["audit", config_path, "--out", out, "-q"])
    assert outcome.code == 0, outcome.err
    assert f"stale lock of privaudit run pid {dead.pid}" in outcome.err
    assert (out / "report.json").is_file() and not (out / LOCK_FILE).exists()


def test_sweep_example_uses_the_same_owner_check(tmp_path, user_folder):
    from privaudit.sweep.example import write_example

    with pytest.raises(OutputError, match="privaudit did not create it"):
        write_example("adult", user_folder)
    assert (user_folder / "notes.txt").read_text() == "do not lose me\n"


def test_model_card_out_does_not_overwrite_a_users_file_unless_forced(config_path, tmp_path, user_folder):
    out = tmp_path / "report"
    assert run_cli(["audit", config_path, "--out", out, "-q"]).code == 0
    readme = user_folder / "README.md"
    outcome = run_cli(["model-card", out, "--out", readme])
    assert_one_line_error(outcome, code=2, names=["--out", str(readme), "--force"])
    assert readme.read_text() == "# My model\n"
    card = tmp_path / "card.md"
    assert run_cli(["model-card", out, "--out", card]).code == 0
    assert run_cli(["model-card", out, "--out", card]).code == 0  # its own card: replaced without --force
    assert run_cli(["model-card", out, "--out", readme, "--force"]).code == 0
    assert "## Privacy" in readme.read_text()


# -- spreadsheet-safe CSV -------------------------------------------------------------
def test_csv_cells_that_start_a_formula_are_escaped_and_numbers_are_not():
    frame = pd.DataFrame({"record_id": HOSTILE_IDS + ["rec-1", "a=b"], "score": [-0.5, 1.0, -2.25, 0.0, 3.0, -1e-9, 7.0],
                          "=HYPERLINK(1)": ["x"] * 7, "label": [-1, 1, -1, 1, -1, 1, -1]})
    rows = list(csv.reader(io.StringIO(csv_bytes(frame).decode())))
    assert rows[0] == ["record_id", "score", "'=HYPERLINK(1)", "label"]
    assert [r[0] for r in rows[1:]] == ["'=cmd|' /C calc'!A0", "'+1", "'-1+2", "'@SUM(1)", "'\t=1", "rec-1", "a=b"]
    assert [float(r[1]) for r in rows[1:]] == [-0.5, 1.0, -2.25, 0.0, 3.0, -1e-9, 7.0]
    assert [r[1] for r in rows[1:]][0] == "-0.5" and [r[3] for r in rows[1:]][0] == "-1"  # numeric columns untouched
    assert spreadsheet_safe_cell("\r=1") == "'\r=1" and spreadsheet_safe_cell(-3) == -3


def test_scores_csv_escapes_hostile_ids_and_keeps_negative_scores(tmp_path):
    ids = HOSTILE_IDS + [f"rec-{i:04d}" for i in range(N - len(HOSTILE_IDS))]
    config = _write_audit(tmp_path, ids=ids)
    outcome = run_cli(["audit", config, "-q"])
    assert outcome.code == 0, outcome.err
    text = (tmp_path / "report" / "scores.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r")) or (c.startswith("-") and not _is_number(c))]
    escaped = [row[0] for row in rows[1:] if row[0].startswith("'")]
    assert len(escaped) == len(HOSTILE_IDS)
    scores = pd.read_csv(io.StringIO(text))["vendor/threshold[loss]"]
    assert scores.dtype == np.float64 and (scores < 0).any()  # -loss: negative scores stay numbers


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.mark.slow
def test_two_real_audits_into_one_folder_never_mix(config_path, tmp_path):
    """Two `privaudit audit` processes at once, twice: each time never mixed, the loser (if any) names the folder and a pid."""
    from hostile import run_cli_subprocess

    for attempt in range(2):
        out = tmp_path / f"try{attempt}"
        with ThreadPool(2) as pool:
            outcomes = pool.map(lambda _: run_cli_subprocess(["audit", config_path, "--out", out, "-q"], timeout=300), range(2))
        assert any(o.code == 0 for o in outcomes)
        for outcome in outcomes:
            if outcome.code != 0:
                assert_one_line_error(outcome, code=2, names=[str(out), "pid ", "in use by another privaudit run"])
        assert verify_manifest(out) == [] and not (out / LOCK_FILE).exists()



def test_serve_example_replaces_only_its_own_http_audit_yaml(tmp_path):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from test_http_target import _fake_demo, _frame

    from privaudit.data import audit_data_from_frame
    from privaudit.serve_example import EXAMPLE_CONFIG, prepare_example

    demo = tmp_path / "demo"
    _fake_demo(demo, audit_data_from_frame(_frame(), label="label", id_column="record_id", membership_column="role"))
    mine = demo / EXAMPLE_CONFIG
    mine.write_text("# my own http audit\n")
    with pytest.raises(OutputError, match="not written by privaudit.*--force") as refused:  # in process: a regression must not start a server
        prepare_example(demo, port=0)
    assert str(mine) in str(refused.value) and len(str(refused.value).splitlines()) == 1
    assert mine.read_text() == "# my own http audit\n"
    for force in (True, False):  # --force replaces the user's file; then privaudit's own is replaced without it
        example = prepare_example(demo, port=0, force=force)
        example._socket.close()
        assert mine.read_text() == example.config_text
