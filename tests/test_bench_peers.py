"""The peer benchmark's pure helpers (benchmarks/peer_protocol.py): the split no tool is scored on, the subsample, the query counter.

No ART needed: the helpers are numpy only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from peer_protocol import QueryCounter, attack_training_split, positions_in, subsample  # noqa: E402


def _roles(seed=0):
    order = np.random.default_rng(seed).permutation(5000)
    return np.sort(order[:300]), np.sort(order[300:3300])


def test_labelled_split_is_disjoint_from_the_evaluation_records_and_covers_them():
    members, nonmembers = _roles()
    split = attack_training_split(members, nonmembers, 100, seed=3)
    assert split.train_members.size == split.train_nonmembers.size == 100
    assert np.intersect1d(split.train_members, split.eval_members).size == 0
    assert np.intersect1d(split.train_nonmembers, split.eval_nonmembers).size == 0
    assert np.intersect1d(np.concatenate([split.train_members, split.train_nonmembers]), split.evaluation).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([split.train_members, split.eval_members])), members)
    np.testing.assert_array_equal(np.sort(np.concatenate([split.train_nonmembers, split.eval_nonmembers])), nonmembers)
    assert split.evaluation_is_member.sum() == 200 and (~split.evaluation_is_member).sum() == 2900
    assert np.isin(split.evaluation[split.evaluation_is_member], members).all()
    assert not np.isin(split.evaluation[~split.evaluation_is_member], members).any()


def test_split_is_seeded():
    members, nonmembers = _roles()
    a, b, c = (attack_training_split(members, nonmembers, 50, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.train_members, b.train_members)
    np.testing.assert_array_equal(a.eval_nonmembers, b.eval_nonmembers)
    assert not np.array_equal(a.train_members, c.train_members)


@pytest.mark.parametrize("n", [0, 300, -1])
def test_split_refuses_sizes_that_leave_nothing_to_evaluate(n):
    members, nonmembers = _roles()
    with pytest.raises(ValueError, match="n_train_each"):
        attack_training_split(members, nonmembers, n, seed=0)


def test_split_refuses_overlapping_roles():
    with pytest.raises(ValueError, match="overlap"):
        attack_training_split(np.arange(10), np.arange(5, 30), 2, seed=0)


def test_subsample_is_inside_the_evaluation_records_and_seeded():
    members, nonmembers = _roles()
    split = attack_training_split(members, nonmembers, 100, seed=0)
    m, n = subsample(split.eval_members, split.eval_nonmembers, 40, seed=0)
    assert m.size == n.size == 40
    assert np.isin(m, split.eval_members).all() and np.isin(n, split.eval_nonmembers).all()
    m2, _ = subsample(split.eval_members, split.eval_nonmembers, 40, seed=0)
    np.testing.assert_array_equal(m, m2)
    m_all, _ = subsample(split.eval_members, split.eval_nonmembers, 10_000, seed=0)
    np.testing.assert_array_equal(m_all, split.eval_members)


def test_positions_in_finds_each_position_and_refuses_missing_ones():
    order = np.array([7, 3, 9, 1, 4])
    np.testing.assert_array_equal(positions_in(order, [9, 7, 4]), [2, 0, 4])
    with pytest.raises(ValueError, match="not in the audited order"):
        positions_in(order, [5])


def test_query_counter_counts_rows_per_call():
    counter = QueryCounter()
    calls = []

    def predict(x):
        counter.add(x)
        calls.append(len(x))
        return np.zeros((len(x), 2))

    predict(np.zeros((128, 3)))
    start = counter.rows
    predict(np.zeros((7, 3)))
    predict([[0.0] * 3])
    assert counter.rows == 136 and counter.calls == 3 and counter.since(start) == 8


def test_compare_reports_a_changed_figure_and_ignores_wall_time():
    from bench_peers import compare

    row = {"attack": "LOSS", "eval": {"auc": 0.6, "0.01": {"tpr": 0.02, "ci": [0.01, 0.03]}}, "subsample": None, "queries_per_record": 1.0, "seconds": 3.0}
    first = {"targets": {"adult": {"rows": [row]}}}
    slower = {"targets": {"adult": {"rows": [{**row, "seconds": 9.0}]}}}
    assert compare(slower, first) == []
    changed = {"targets": {"adult": {"rows": [{**row, "eval": {**row["eval"], "auc": 0.61}}]}}}
    assert len(compare(changed, first)) == 1 and "LOSS / eval" in compare(changed, first)[0]
    assert compare({"targets": {"adult": {"rows": [{**row, "attack": "new"}]}}}, first)  # a row the earlier run lacks


def test_fresh_random_states_are_seeded_inside_the_block_only():
    """ART's HopSkipJump makes an unseeded np.random.RandomState() per record; the bench seeds them (peer_art imports ART lazily)."""
    from peer_art import seeded_fresh_random_states

    original = np.random.RandomState

    def draws():
        return [np.random.RandomState().uniform(size=3) for _ in range(2)]

    with seeded_fresh_random_states(5):
        first = draws()
        assert isinstance(np.random.RandomState(), original)
        np.testing.assert_array_equal(np.random.RandomState(7).uniform(size=3), original(7).uniform(size=3))  # an explicit seed is kept
    with seeded_fresh_random_states(5):
        second = draws()
    assert np.random.RandomState is original
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])
    with seeded_fresh_random_states(6):
        assert not np.array_equal(draws()[0], first[0])


def test_missing_art_is_refused_in_one_line_with_the_install_hint(monkeypatch):
    import peer_art

    monkeypatch.setitem(sys.modules, "art", None)  # `import art` now raises ImportError, as without the bench extra
    with pytest.raises(SystemExit, match=r"pip install -e '\.\[bench\]'") as refused:
        peer_art.require_art()
    assert "\n" not in str(refused.value)


def test_tpr_cells_resting_on_fewer_than_ten_expected_false_positives_are_marked():
    """Review of issue 17: TPR at 0.1 % FPR on 9,500 (or 1,500, or 200) non-members rests on < 10 expected false positives."""
    from bench_peers import _table

    metrics = {"auc": 0.7, "auc_ci": [0.68, 0.72], "n_members": 500,
               "0.01": {"tpr": 0.05, "ci": [0.03, 0.07]}, "0.001": {"tpr": 0.016, "ci": [0.007, 0.031]}}
    row = {"tool": "t", "attack": "a", "access": "x", "labelled": "none", "seconds_note": "", "queries_per_record": 1.0, "seconds": 1.0}
    for n_nonmembers, marked_1, marked_01 in ((9_500, False, True), (1_500, False, True), (200, True, True), (20_000, False, False)):
        line = _table([{**row, "eval": {**metrics, "n_nonmembers": n_nonmembers}}], "eval")[-1]
        cells = line.split(" | ")
        assert cells[6].endswith("†") == marked_1 and cells[7].endswith("†") == marked_01, (n_nonmembers, line)


def test_an_existing_json_is_not_overwritten_and_the_check_comes_before_the_run(tmp_path):
    from bench_peers import main

    mine = tmp_path / "figures.json"
    mine.write_text("the user's own file")
    with pytest.raises(SystemExit, match=r"--json .*figures.json: exists; give a new path, or add --overwrite"):
        main(["--adult-dir", str(tmp_path / "demo"), "--json", str(mine)])
    assert mine.read_text() == "the user's own file" and not (tmp_path / "demo").exists()


def test_a_folder_that_is_not_a_demo_is_refused_not_trained_into(tmp_path):
    from bench_peers import main

    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(SystemExit, match=r"--adult-dir .*photos: not a privaudit demo folder \(no config.yaml\) and not empty"):
        main(["--adult-dir", str(tmp_path / "photos")])
    assert sorted(p.name for p in (tmp_path / "photos").iterdir()) == ["holiday.jpg"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit, match=r"--image-dir .*file: not a folder"):
        main(["--adult-dir", str(tmp_path / "new"), "--image-dir", str(tmp_path / "file")])


@pytest.mark.parametrize("text", ["# Benchmarks\n<!-- peers:begin -->\nold\n", "<!-- peers:end -->\n<!-- peers:begin -->\n"])
def test_write_refuses_a_file_with_damaged_markers_before_the_run(tmp_path, text):
    from bench_peers import BEGIN, END, main

    text = text.replace("<!-- peers:begin -->", BEGIN).replace("<!-- peers:end -->", END)
    target = tmp_path / "BENCHMARKS.md"
    target.write_text(text)
    with pytest.raises(SystemExit, match=r"--write .*BENCHMARKS.md: holds the section markers"):
        main(["--adult-dir", str(tmp_path / "demo"), "--write", str(target)])
    assert target.read_text() == text and not (tmp_path / "demo").exists()


def test_write_appends_to_a_file_without_markers_and_replaces_between_them(tmp_path):
    from _sections import replace_section

    target = tmp_path / "B.md"
    target.write_text("# mine\n")
    replace_section(target, "<b>\nnew\n<e>", "<b>", "<e>")
    replace_section(target, "<b>\nnewer\n<e>", "<b>", "<e>")
    assert target.read_text() == "# mine\n\n<b>\nnewer\n<e>\n"


def test_a_demo_config_without_the_demo_target_is_named(tmp_path):
    import yaml
    from bench_peers import load

    (tmp_path / "records.csv").write_text("record_id,x,label,split\na,1,0,member\nb,2,1,nonmember\n")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "data": {"path": "records.csv", "label": "label", "id_column": "record_id", "features": ["x"], "membership": {"column": "split"}},
        "targets": [{"name": "other", "type": "precomputed", "path": "records.csv", "outputs": "labels", "columns": ["label"]}]}))
    with pytest.raises(SystemExit, match=r"config.yaml: no target named 'overfit_mlp', so this is not the adult demo's folder"):
        load("adult", tmp_path, 0)
