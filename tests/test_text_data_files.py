"""Texts from files for a config-driven text audit (privaudit.text.data) and the causal_lm config checks: hostile files end in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from privaudit.config import parse_config
from privaudit.exceptions import ConfigError, DataError
from privaudit.text.canaries import Canary
from privaudit.text.data import MAX_TEXT_CHARS, canaries_jsonl, load_text_data, read_canaries, text_data_jsonl


def write(path, content):
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def test_jsonl_with_ids_and_a_membership_column(tmp_path):
    path = write(tmp_path / "t.jsonl", text_data_jsonl(["a", "b", "c", "d"], ["one two", "three", "four five", "six"], [True, False, True, False]))
    data = load_text_data(path, id_column="id", membership_column="member")
    assert data.members == ["one two", "four five"] and data.nonmembers == ["three", "six"]
    assert list(data.record_ids) == ["a", "c", "b", "d"] and data.texts == ["one two", "four five", "three", "six"]


def test_jsonl_booleans_and_integer_ids(tmp_path):
    lines = [{"n": 7, "body": "x y", "in": True}, {"n": 8, "body": "z", "in": False}]
    path = write(tmp_path / "t.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    data = load_text_data(path, text_column="body", id_column="n", membership_column="in")
    assert data.members == ["x y"] and list(data.nonmember_ids) == ["8"]


def test_csv_text_column_kept_as_written(tmp_path):
    path = write(tmp_path / "t.csv", 'id,body,split\n007,"a, quoted text",member\n008,NA,nonmember\n009,,\n')
    data = load_text_data(path, text_column="body", id_column="id", membership_column="split")
    assert data.members == ["a, quoted text"] and data.nonmembers == ["NA"]  # 'NA' is a text, not a missing value
    assert list(data.member_ids) == ["007"]


def test_txt_with_id_files_counts_non_blank_lines(tmp_path):
    path = write(tmp_path / "t.txt", "first\n\nsecond\nthird\n")
    write(tmp_path / "m.txt", "0\n2\n")
    write(tmp_path / "n.txt", "1\n")
    data = load_text_data(path, members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")
    assert data.members == ["first", "third"] and data.nonmembers == ["second"]


@pytest.mark.parametrize("name, content, kwargs, message", [
    ("t.jsonl", '{"text": "a", "member": 1}\n{"txt": "b", "member": 0}\n', {}, "line 2: no 'text' field"),
    ("t.jsonl", '{"text": "a", "member": 1}\n{"text": null, "member": 0}\n', {}, "line 2: 'text' is null, not a string"),
    ("t.jsonl", '{"text": "a", "member": 1}\n[1, 2]\n', {}, "line 2: not a JSON object"),
    ("t.jsonl", '{"text": "a", "member": 1}\n{"text": "  ", "member": 0}\n', {}, "line 2: the text is empty"),
    ("t.jsonl", '{"text": "a", "member": "member"}\n{"text": "b", "member": "population"}\n', {}, "a text audit uses no population"),
    ("t.jsonl", '{"text": "a", "member": "member"}\n{"text": "b", "member": "maybe"}\n', {}, "unknown value 'maybe'"),
    ("t.jsonl", '{"text": "a", "member": 1}\n{"text": "b", "member": 1}\n', {}, "0 non-member texts"),
    ("t.jsonl", '{"text": "a", "member": 1}\n{"text": "a", "member": 0}\n', {}, "in both the members and the non-members"),
    ("t.jsonl", '{"text": "a", "member": 1, "id": "x"}\n{"text": "b", "member": 0, "id": "x"}\n', {"id_column": "id"}, "id 'x' also on line 1"),
    ("t.jsonl", '{"text": "a", "member": 1, "id": true}\n', {"id_column": "id"}, "give ids as strings or integers"),
    ("t.csv", "body,member\na,1\nb,0\n", {}, "no 'text' column (data.text_column; columns: body, member)"),
    ("t.csv", "text,member\na,1\n,0\n", {}, "data row 2: the text is empty"),
    ("t.csv", b"text,member\n\xe9t\xe9,1\nb,0\n", {}, "not UTF-8"),
    ("t.jsonl", b'{"text": "\xe9t\xe9", "member": 1}\n', {}, "not UTF-8 text (byte 0xe9 on line 1)"),
    ("t.jsonl", b'{"text": "a\x00", "member": 1}\n', {}, "NUL bytes"),
    ("t.jsonl", json.dumps({"text": "x" * (MAX_TEXT_CHARS + 1), "member": 1}) + "\n", {}, f"more than {MAX_TEXT_CHARS:,}"),
    ("t.jsonl", "", {}, "no texts"),
    ("t.docx", "text\n", {}, "unsupported file type for texts"),
])
def test_hostile_text_files_end_in_one_line(tmp_path, name, content, kwargs, message):
    path = write(tmp_path / name, content)
    with pytest.raises(DataError) as info:
        load_text_data(path, membership_column="member", **kwargs)
    text = str(info.value)
    assert message in text and str(path) in text and "\n" not in text


def test_txt_refuses_columns_and_id_files_must_match(tmp_path):
    path = write(tmp_path / "t.txt", "a\nb\n")
    with pytest.raises(DataError, match="no columns"):
        load_text_data(path, membership_column="member")
    write(tmp_path / "m.txt", "0\n")
    write(tmp_path / "n.txt", "5\n")
    with pytest.raises(DataError, match="1 nonmember id\\(s\\) are not in"):
        load_text_data(path, members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")
    write(tmp_path / "n.txt", "0\n")
    with pytest.raises(DataError, match="as a member and as a non-member"):
        load_text_data(path, members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")
    with pytest.raises(DataError, match="file not found"):
        load_text_data(tmp_path / "nowhere.jsonl", membership_column="member")


def test_canaries_round_trip_and_hostile_canary_files(tmp_path):
    canaries = [Canary("Ann's PIN is ", "123456"), Canary("Bo's PIN is ", "654321", ".")]
    path = write(tmp_path / "c.jsonl", canaries_jsonl(canaries, [True, False]))
    read, inserted = read_canaries(path)
    assert read == canaries and inserted.tolist() == [True, False] and inserted.dtype == np.bool_
    for content, message in [('{"prefix": "a", "secret": "1"}\n', "'inserted' must be true or false"),
                             ('{"prefix": "a", "secret": "", "inserted": true}\n', "'secret' non-empty"),
                             ('{"prefix": "a", "secret": "1", "inserted": true, "x": 1}\n', "unknown field(s) 'x'"),
                             ("\n", "no canaries")]:
        with pytest.raises(DataError, match=message.replace("(", "\\(").replace(")", "\\)")):
            read_canaries(write(tmp_path / "bad.jsonl", content))


TEXT_CONFIG = {"data": {"path": "t.jsonl", "membership": {"column": "member"}}, "targets": [{"name": "lm", "type": "causal_lm", "path": "m"}]}


@pytest.mark.parametrize("change, message", [
    (lambda c: c["data"].update(label="y"), "has no data.label"),
    (lambda c: c.update(groups=[{"column": "x"}]), "has no groups"),
    (lambda c: c.update(attacks=["rmia"]), "unknown text attack 'rmia'"),
    (lambda c: c.update(attacks=[{"name": "min_k", "q": 1}]), "has no parameter q"),
    (lambda c: c["targets"].append({"name": "t2", "type": "sklearn", "path": "x"}), "put them in separate configs"),
    (lambda c: c["targets"].append({"name": "t2", "type": "causal_lm", "path": "x"}), "takes one causal_lm target"),
    (lambda c: c["targets"][0].update(trust_remote_code=True), "unknown key 'targets.0.trust_remote_code'; allowed keys here: name, type, path, reference"),
    (lambda c: c["targets"][0].update(canaries={"path": "c.jsonl"}), "repetitions"),
    (lambda c: c["targets"][0].update(device="http://x"), "device"),
    (lambda c: c["targets"][0].update(canaries={"path": "c.jsonl", "repetitions": 2, "n_candidates": 5}), "extrapolate: false"),
])
def test_text_config_errors(change, message):
    config = json.loads(json.dumps(TEXT_CONFIG))
    change(config)
    with pytest.raises(ConfigError) as info:
        parse_config(config, "audit.yaml")
    assert message in str(info.value) and str(info.value).startswith("audit.yaml: ")


def test_text_config_accepts_text_attacks_and_a_tabular_config_still_needs_a_label():
    config = json.loads(json.dumps(TEXT_CONFIG))
    config["attacks"] = ["loss", {"name": "neighbourhood", "n_neighbours": 2}]
    config["data"]["text_column"] = "body"
    parsed = parse_config(config)
    assert parsed.targets[0].type == "causal_lm" and parsed.data.text_column == "body"
    with pytest.raises(ConfigError, match="data.label"):
        parse_config({"data": {"path": "d.csv", "membership": {"column": "m"}}, "targets": [{"name": "t", "type": "sklearn", "path": "m"}]})
    with pytest.raises(ConfigError, match="text_column applies to causal_lm"):
        parse_config({"data": {"path": "d.csv", "label": "y", "text_column": "t", "membership": {"column": "m"}},
                      "targets": [{"name": "t", "type": "sklearn", "path": "m"}]})


def test_reference_models_and_check_are_refused_for_a_text_audit(tmp_path):
    import yaml

    from hostile import assert_one_line_error, run_cli

    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(TEXT_CONFIG))
    assert_one_line_error(run_cli(["audit", tmp_path / "audit.yaml", "--reference-models", "4"]), code=2,
                          names=["--reference-models", "text audit", "'reference'"])
    assert_one_line_error(run_cli(["check", tmp_path / "audit.yaml", "--record", "a=1"]), code=2, names=["causal_lm", "--documents FILE"])


def test_a_sweep_still_needs_a_label():
    from privaudit.sweep.config import parse_sweep_config

    with pytest.raises(ConfigError, match="data needs 'label'"):
        parse_sweep_config({"data": {"path": "d.csv", "membership": {"column": "split"}}, "settings": [{"name": "a"}]})


@pytest.mark.parametrize("missing", ["path", "reference", "canaries"])
def test_causal_lm_config_with_a_missing_file_names_its_key(tmp_path, missing):
    """A model, reference model or canary file that is not there: one line naming targets.NAME.KEY, before any model loads."""
    from privaudit.pipeline.text_audit import run_text_audit

    write(tmp_path / "t.jsonl", text_data_jsonl(["a", "b"], ["one two", "three"], [True, False]))
    (tmp_path / "lm").mkdir()
    write(tmp_path / "c.jsonl", canaries_jsonl([Canary("Ann's PIN is ", "123456")], [True]))
    target = {"name": "my-lm", "type": "causal_lm", "path": "lm", "reference": "lm", "canaries": {"path": "c.jsonl", "repetitions": 1, "extrapolate": False}}
    if missing == "canaries":
        target["canaries"]["path"] = "gone.jsonl"
    else:
        target[missing] = "gone/"
    config = parse_config({"data": {"path": "t.jsonl", "id_column": "id", "membership": {"column": "member"}}, "targets": [target]}, "lm.yaml")
    key = "targets.my-lm.canaries.path" if missing == "canaries" else f"targets.my-lm.{missing}"
    with pytest.raises(ConfigError) as caught:
        run_text_audit(config, tmp_path)
    text = str(caught.value)
    assert text.startswith(f"{key}: gone") and "not found" in text and "relative to the config" in text and "\n" not in text


def test_text_audit_with_a_missing_model_names_the_option_and_leaves_no_folder(tmp_path, capsys):
    """privaudit text-audit --model gone/: '--model: gone not found', not a config key of the config it would have written."""
    from privaudit.cli import main

    write(tmp_path / "m.txt", "one text\nanother text\n")
    write(tmp_path / "n.txt", "a third text\na fourth text\n")
    (tmp_path / "lm").mkdir()
    for extra, option in ([], "--model"), (["--reference", str(tmp_path / "base-gone")], "--reference"):
        model = str(tmp_path / ("gone" if option == "--model" else "lm"))
        with pytest.raises(SystemExit) as exit_info:
            main(["text-audit", "--model", model, "--members", str(tmp_path / "m.txt"), "--nonmembers", str(tmp_path / "n.txt"),
                  "--out", str(tmp_path / "out"), "-q", *extra])
        err = capsys.readouterr().err.strip()
        assert exit_info.value.code == 2 and err.startswith(f"privaudit: error: {option}: ") and "not found" in err and "\n" not in err, err
        assert "targets." not in err and not (tmp_path / "out").exists()


def test_the_registered_causal_lm_loader_takes_what_load_target_gives(tmp_path):
    """`load_target` adds `trust_code` to every spec; the causal_lm loader must accept it and reach the model files."""
    import privaudit.config  # noqa: F401  (registers the causal_lm type, as reading a config does)
    from privaudit.exceptions import PrivauditError
    from privaudit.targets import load_target

    with pytest.raises(PrivauditError, match="nowhere"):
        load_target({"name": "lm", "type": "causal_lm", "path": "nowhere"}, tmp_path)
