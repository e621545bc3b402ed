"""Config files: validated, safe to load, one readable error line naming the file and the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from privaudit.config import AuditConfig, config_hash, load_config, parse_config
from privaudit.exceptions import ConfigError

VALID = """\
seed: 3
data:
  path: records.csv
  label: income
  id_column: record_id
  membership:
    column: split
targets:
  - name: my_model
    type: sklearn
    path: model.skops
attacks: [loss, entropy, {name: classwise_threshold, signal: loss}]
metrics: {fprs: [0.1, 0.01, 0.001], bootstrap: 200, confidence: 0.9}
output: report/
"""


def _write(tmp_path: Path, text: str, name: str = "audit.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message, "every config error names the file"
    assert "\n" not in message, "one line"
    return message


# --- valid configs ------------------------------------------------------------------------------------------


def test_valid_config_loads(tmp_path):
    config, folder = load_config(_write(tmp_path, VALID))
    assert isinstance(config, AuditConfig)
    assert folder == tmp_path.resolve()
    assert config.seed == 3
    assert config.data.path == "records.csv" and config.data.label == "income" and config.data.id_column == "record_id"
    assert config.data.membership.column == "split"
    assert [(t.name, t.type, t.path) for t in config.targets] == [("my_model", "sklearn", "model.skops")]
    assert config.attacks == ["loss", "entropy", {"name": "classwise_threshold", "signal": "loss"}]
    assert config.metrics.fprs == [0.1, 0.01, 0.001]
    assert (config.metrics.bootstrap, config.metrics.confidence) == (200, 0.9)
    assert config.output == "report/"


def test_defaults_and_single_target_shorthand(tmp_path):
    config, _ = load_config(_write(tmp_path, """\
        data: {path: r.parquet, label: y, membership: {members: m.txt, nonmembers: n.txt}}
        target: {type: precomputed, path: outputs.csv, outputs: logits}
    """))
    assert config.seed == 0
    assert config.attacks is None
    assert [(t.name, t.type, t.outputs) for t in config.targets] == [("target", "precomputed", "logits")]
    assert config.data.membership.members == "m.txt" and config.data.membership.column is None
    assert 0 < min(config.metrics.fprs) and max(config.metrics.fprs) < 1
    assert config.metrics.fprs == sorted(config.metrics.fprs, reverse=True)


def test_config_is_frozen(tmp_path):
    config, _ = load_config(_write(tmp_path, VALID))
    with pytest.raises(ValueError, match="frozen"):  # pydantic's ValidationError
        config.seed = 4


# --- invalid configs --------------------------------------------------------------------------------------------


def test_unknown_top_level_key_lists_allowed_keys(tmp_path):
    message = _error(tmp_path, VALID + "sed: 1\n")
    assert "unknown key 'sed'" in message
    for key in ("seed", "data", "targets", "target", "attacks", "metrics", "output"):
        assert key in message.split("allowed keys here:")[1], key


def test_unknown_nested_key_lists_that_level_s_keys(tmp_path):
    message = _error(tmp_path, VALID.replace("  label: income\n", "  label: income\n  lable: income\n"))
    assert "unknown key 'data.lable'" in message
    allowed = message.split("allowed keys here:")[1]
    for key in ("path", "label", "id_column", "features", "classes", "membership"):
        assert key in allowed, key
    assert "seed" not in allowed


def test_unknown_key_in_a_target_lists_target_keys(tmp_path):
    message = _error(tmp_path, VALID.replace("    path: model.skops\n", "    path: model.skops\n    pth: x\n"))
    assert "unknown key 'targets.0.pth'" in message
    allowed = message.split("allowed keys here:")[1]
    assert "trusted_types" in allowed and "path" in allowed
    assert "factory" not in allowed and "url" not in allowed, "an sklearn target lists only sklearn keys"


def test_missing_required_field_is_named(tmp_path):
    message = _error(tmp_path, VALID.replace("  label: income\n", ""))
    assert "missing required key 'data.label'" in message
    message = _error(tmp_path, "targets: [{name: t, type: sklearn, path: m.skops}]\n")
    assert "missing required key 'data'" in message


def test_target_type_needs_its_fields(tmp_path):
    message = _error(tmp_path, VALID.replace("    path: model.skops\n", "    weights: w.safetensors\n").replace("type: sklearn", "type: torch"))
    assert "missing required key 'targets.0.factory'" in message
    message = _error(tmp_path, VALID.replace("type: sklearn", "type: onnx"))
    assert "targets.0.type: unknown type 'onnx'; known types: causal_lm, http, precomputed, sklearn, torch" in message
    message = _error(tmp_path, VALID.replace("    type: sklearn\n", ""))
    assert "missing required key 'targets.0.type'; known types: causal_lm, http, precomputed, sklearn, torch" in message


@pytest.mark.parametrize(
    "change, expected",
    [
        (("attacks: [loss, entropy, {name: classwise_threshold, signal: loss}]", "attacks: [lossy]"), "unknown attack 'lossy'"),
        (("signal: loss}", "signal: nope}"), "unknown signal 'nope'"),
        (("fprs: [0.1, 0.01, 0.001]", "fprs: [0.1, 1.5]"), "strictly between 0 and 1"),
        (("bootstrap: 200", "bootstrap: 3"), "metrics.bootstrap"),
        (("seed: 3", "seed: three"), "seed"),
        (("    column: split\n", "    column: split\n    members: m.txt\n"), "not both"),
    ],
)
def test_invalid_values_are_config_errors_naming_the_key(tmp_path, change, expected):
    old, new = change
    assert old in VALID
    assert expected in _error(tmp_path, VALID.replace(old, new))


def test_duplicate_target_names(tmp_path):
    text = VALID.replace("targets:\n", "targets:\n  - {name: my_model, type: precomputed, path: o.csv}\n")
    assert "target names must be unique" in _error(tmp_path, text)


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    message = _error(tmp_path, "data:\n  path: [unclosed\n  label: y\n")
    assert "not valid YAML" in message
    assert "line" in message


def test_config_that_is_not_a_mapping(tmp_path):
    assert "must be a mapping" in _error(tmp_path, "- just\n- a list\n")
    assert "must be a mapping" in _error(tmp_path, "")


def test_binary_file_is_a_config_error(tmp_path):
    path = tmp_path / "audit.yaml"
    path.write_bytes(b"\xff\xfe\x00\x9c binary")
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)


@pytest.mark.parametrize(
    "payload",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:subprocess.check_output [['touch', '{marker}']]",
        "!!python/name:os.system",
    ],
)
def test_python_tags_are_refused_and_never_run(tmp_path, payload):
    """yaml.safe_load: a config cannot construct Python objects (ML Privacy Meter's unsafe loader, by contrast)."""
    marker = tmp_path / "pwned"
    text = VALID.replace("seed: 3", "seed: " + payload.format(marker=marker))
    message = _error(tmp_path, text)
    assert "not valid YAML" in message
    assert not marker.exists()


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "audit.yaml"
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_config(path)
    assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match="is a folder, not a config file"):
        load_config(tmp_path)  # a folder is not a config file (said as such since issue 13)


def test_parse_config_refuses_non_mapping_with_source():
    with pytest.raises(ConfigError, match="<here>: the config must be a mapping"):
        parse_config(["data"], "<here>")


# --- config_hash ----------------------------------------------------------------------------------------------


def test_config_hash_is_stable(tmp_path):
    first, _ = load_config(_write(tmp_path, VALID, "a.yaml"))
    second, _ = load_config(_write(tmp_path, VALID, "b.yaml"))
    digest = config_hash(first)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert config_hash(second) == digest
    assert config_hash(first) == digest  # same object, same hash


def test_config_hash_ignores_key_order_and_formatting(tmp_path):
    reordered = """\
output: report/
metrics:
  confidence: 0.9
  bootstrap: 200
  fprs: [0.001, 0.1, 0.01]   # order and comments do not matter
attacks:
  - loss
  - entropy
  - {signal: loss, name: classwise_threshold}
targets:
  - {path: model.skops, type: sklearn, name: my_model}
data:
  membership: {column: split}
  id_column: record_id
  label: income
  path: records.csv
seed: 3
"""
    first, _ = load_config(_write(tmp_path, VALID, "a.yaml"))
    second, _ = load_config(_write(tmp_path, reordered, "b.yaml"))
    assert config_hash(first) == config_hash(second)


@pytest.mark.parametrize(
    "old, new",
    [
        ("seed: 3", "seed: 4"),
        ("label: income", "label: income2"),
        ("path: model.skops", "path: model2.skops"),
        ("attacks: [loss, entropy,", "attacks: [loss, confidence,"),
        ("bootstrap: 200", "bootstrap: 201"),
        ("output: report/", "output: elsewhere/"),
    ],
)
def test_config_hash_changes_with_any_setting(tmp_path, old, new):
    base, _ = load_config(_write(tmp_path, VALID, "a.yaml"))
    assert old in VALID
    changed, _ = load_config(_write(tmp_path, VALID.replace(old, new), "b.yaml"))
    assert config_hash(changed) != config_hash(base)
