"""Bad-input battery for configs (issue 13): hostile or broken configs end in one line, exit 2, and run nothing.

Every case goes through the real command line (:func:`hostile.run_cli`) and asserts the exit
code, one ``privaudit: error:`` line naming the file and field, no traceback, and, where the
input tries to run code, that the marker file it would write does not exist afterwards.
"""

from __future__ import annotations

import functools
import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile import assert_one_line_error, assert_unchanged, run_cli, snapshot

N = 40


def _write_data(folder: Path, *, features: bool = True) -> None:
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"record_id": [f"r{i:03d}" for i in range(N)], "y": np.arange(N) % 2,
                          "split": ["member"] * (N // 2) + ["nonmember"] * (N // 2)})
    if features:
        table.insert(1, "a", rng.normal(size=N))
        table.insert(2, "b", rng.normal(size=N))
    table.to_csv(folder / "data.csv", index=False)


DATA = "data: {path: data.csv, label: y, id_column: record_id, membership: {column: split}}\n"


def _config(folder: Path, body: str, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(DATA + textwrap.dedent(body))
    return path


def _eval_payload_skops(folder: Path, marker: Path) -> Path:
    """A real skops payload: a pipeline whose FunctionTransformer calls ``partial(eval, code, {})`` on predict."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0)})
    model = make_pipeline(FunctionTransformer(validate=False), LogisticRegression()).fit(X, np.arange(10) % 2)
    model.steps[0][1].func = functools.partial(eval, f"[open({str(marker)!r}, 'w').write('ran'), a][1].to_frame().assign(b=b)", {})
    sio.dump(model, folder / "evil.skops")
    assert set(sio.get_untrusted_types(file=folder / "evil.skops")) == {"builtins.eval", "functools.partial"}
    return folder / "evil.skops"


def _alias_bomb(indent: int, levels: int = 9) -> str:
    """Nested anchors ("billion laughs"): 9**9 strings once expanded, in under 700 bytes."""
    pad = " " * indent
    lines = [f'{pad}l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"{pad}l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


EVIL_MODULE = "open({marker!r}, 'w').write('imported')\n\ndef build(**kwargs):\n    open({marker!r}, 'w').write('called')\n"


# --- the cases ------------------------------------------------------------------------------------------------
# each: (id, setup(folder, marker) -> argv, expected exit code, substrings the error line must name)


def _factory_os_system(folder, marker):
    return ["audit", _config(folder, f"""
        targets:
          - name: net
            type: torch
            weights: w.safetensors
            factory: os:system
            factory_kwargs: {{command: "touch {marker}"}}
        """)]


def _factory_beside_config(folder, marker):
    (folder / "evil.py").write_text(EVIL_MODULE.format(marker=str(marker)))
    return ["audit", _config(folder, """
        targets:
          - {name: net, type: torch, weights: w.safetensors, factory: "evil:build"}
        """)]


def _factory_privaudit_internal(folder, marker):
    return ["audit", _config(folder, f"""
        targets:
          - name: net
            type: torch
            weights: w.safetensors
            factory: privaudit.demo:run_demo
            factory_kwargs: {{out_dir: "{marker}"}}
        """)]


def _factory_in_check(folder, marker):
    return ["check", _config(folder, f"""
        targets:
          - {{name: net, type: torch, weights: w.safetensors, factory: "os:system", factory_kwargs: {{command: "touch {marker}"}}}}
        """), "--record", "a=1"]


def _factory_in_sweep(folder, marker):
    path = folder / "sweep.yaml"
    path.write_text(DATA + f"model: {{factory: 'os:system', factory_kwargs: {{command: 'touch {marker}'}}}}\nsettings: [{{name: base}}]\n")
    return ["sweep", path]


def _factory_kwargs_not_plain(folder, marker):
    (folder / "evil.py").write_text(EVIL_MODULE.format(marker=str(marker)))
    return ["audit", _config(folder, """
        trust_code: true
        targets:
          - {name: net, type: torch, weights: w.safetensors, factory: "evil:build", factory_kwargs: {when: 2020-01-01}}
        """)]


def _factory_malformed(folder, marker):
    return ["audit", _config(folder, """
        targets:
          - {name: net, type: torch, weights: w.safetensors, factory: "os:system; rm -rf x"}
        """)]


def _skops_eval_payload(folder, marker):
    _eval_payload_skops(folder, marker)
    return ["audit", _config(folder, """
        targets:
          - {name: evil, type: sklearn, path: evil.skops, trusted_types: [builtins.eval, functools.partial]}
        attacks: [loss]
        metrics: {bootstrap: 50}
        """)]


def _skops_unlisted_type(folder, marker):
    import math

    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0)})
    model = make_pipeline(FunctionTransformer(inverse_func=math.fabs, check_inverse=False), LogisticRegression()).fit(X, np.arange(10) % 2)
    sio.dump(model, folder / "odd.skops")
    return ["audit", _config(folder, """
        targets:
          - {name: odd, type: sklearn, path: odd.skops}
        attacks: [loss]
        """)]


def _alias_bomb_in_factory_kwargs(folder, marker):
    path = folder / "config.yaml"
    path.write_text(DATA + "targets:\n  - name: net\n    type: torch\n    weights: w.safetensors\n    factory: privaudit.models:build_mlp\n"
                    "    factory_kwargs:\n" + _alias_bomb(6))
    assert path.stat().st_size < 1000  # the sub-kilobyte bomb of the issue
    return ["audit", path]


def _alias_bomb_in_sweep(folder, marker):
    path = folder / "sweep.yaml"
    path.write_text(DATA + "settings: [{name: base}]\nmodel:\n  factory_kwargs:\n" + _alias_bomb(4))
    return ["sweep", path]


def _too_many_aliases(folder, marker):
    return ["audit", _raw_config(folder, DATA + "x: &x 1\nys: [" + ", ".join(["*x"] * 101) + "]\n")]


def _recursive_alias(folder, marker):
    return ["audit", _raw_config(folder, DATA + "loop: &loop [1, *loop]\n")]


def _deep_nesting(folder, marker):
    return ["audit", _raw_config(folder, DATA + "deep: " + "[" * 200 + "]" * 200 + "\n")]


def _oversize_config(folder, marker):
    path = folder / "config.yaml"
    path.write_text(DATA + ("# padding\n" * 110_000))  # > 1 MiB
    return ["audit", path]


def _seed_negative(folder, marker):
    return ["audit", _config(folder, "seed: -1\ntarget: {type: precomputed, path: o.csv}\n")]


def _seed_too_large(folder, marker):
    return ["audit", _config(folder, f"seed: {2**40}\ntarget: {{type: precomputed, path: o.csv}}\n")]


def _raw_config(folder, content: str | bytes):
    """``config.yaml`` in ``folder`` holding exactly ``content`` (text as UTF-8, bytes as they are)."""
    path = folder / "config.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def _config_is_a_list(folder, marker):
    return ["audit", _raw_config(folder, "- data\n- targets\n")]


def _config_is_a_scalar(folder, marker):
    return ["audit", _raw_config(folder, "just some words\n")]


def _config_is_empty(folder, marker):
    return ["audit", _raw_config(folder, "")]


def _unknown_key(folder, marker):
    return ["audit", _config(folder, "target: {type: precomputed, path: o.csv}\nbogus_key: 1\n")]


def _key_with_line_break(folder, marker):
    return ["audit", _config(folder, 'target: {type: precomputed, path: o.csv}\n"bad\\nkey": 1\n')]


def _not_utf8(folder, marker):
    return ["audit", _raw_config(folder, (DATA + "target: {type: precomputed, path: o.csv}\noutput: rapport-été\n").encode("latin-1"))]


def _nul_bytes(folder, marker):
    return ["audit", _raw_config(folder, DATA.encode() + b"target: {type: precomputed, path: o\x00.csv}\n")]


def _audit_config_is_a_folder(folder, marker):
    (folder / "conf.d").mkdir()
    return ["audit", folder / "conf.d"]


def _sweep_config_is_a_folder(folder, marker):
    (folder / "conf.d").mkdir()
    return ["sweep", folder / "conf.d"]


def _boolean_classes(folder, marker):
    return ["audit", _raw_config(folder, "data: {path: data.csv, label: y, classes: [no, yes], membership: {column: split}}\ntarget: {type: precomputed, path: o.csv}\n")]


def _boolean_label(folder, marker):
    return ["audit", _raw_config(folder, "data: {path: data.csv, label: no, membership: {column: split}}\ntarget: {type: precomputed, path: o.csv}\n")]


def _duplicate_key(folder, marker):
    return ["audit", _config(folder, "trust_code: false\ntarget: {type: precomputed, path: o.csv}\ntrust_code: true\n")]


def _python_tag(folder, marker):
    return ["audit", _config(folder, f"target: {{type: precomputed, path: o.csv}}\noutput: !!python/object/apply:os.system ['touch {marker}']\n")]


def _yaml_syntax(folder, marker):
    return ["audit", _config(folder, "targets: [unclosed\n")]


def _trust_code_not_boolean(folder, marker):
    return ["audit", _config(folder, "trust_code: please\ntarget: {type: precomputed, path: o.csv}\n")]


def _precomputed_reference_without_features(folder, marker):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    _write_data(folder, features=False)
    p = np.random.default_rng(1).uniform(0.05, 0.95, N)
    pd.DataFrame({"record_id": [f"r{i:03d}" for i in range(N)], "0": 1 - p, "1": p}).to_csv(folder / "outputs.csv", index=False)
    sio.dump(LogisticRegression(), folder / "est.skops")
    return ["audit", _config(folder, """
        targets:
          - {name: vendor, type: precomputed, path: outputs.csv, id_column: record_id, outputs: probabilities,
             reference: {models: 2, mode: offline, estimator: est.skops}}
        attacks: [loss, reference_calibrated_loss]
        metrics: {bootstrap: 50}
        """)]


def _ray_address_in_config(folder, marker):
    return ["audit", _config(folder, "target: {type: precomputed, path: o.csv}\ncompute: {backend: ray, ray_address: 'ray://203.0.113.7:10001'}\n")]


def _ray_address_in_sweep(folder, marker):
    path = folder / "sweep.yaml"
    path.write_text(DATA + "settings: [{name: base}]\ncompute: {backend: ray, ray_address: 'ray://203.0.113.7:10001'}\n")
    return ["sweep", path]


def _n_jobs_fork_bomb(folder, marker):
    return ["audit", _config(folder, "target: {type: precomputed, path: o.csv}\ncompute: {backend: process, n_jobs: 100000}\n")]


def _attack_name_not_a_string(folder, marker):
    return ["audit", _config(folder, "target: {type: precomputed, path: o.csv}\nattacks: [{name: [loss]}]\n")]


def _trusted_types_dangerous_in_transform(folder, marker):
    _eval_payload_skops(folder, marker)
    return ["audit", _config(folder, """
        targets:
          - {name: api, type: http, url: "http://127.0.0.1:9/predict", transform: evil.skops, trusted_types: [builtins.eval, functools.partial]}
        attacks: [loss]
        """)]


class _OpensMarkerWhenUnpickled:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickle_model_untrusted(folder, marker):
    import pickle

    (folder / "model.joblib").write_bytes(pickle.dumps(_OpensMarkerWhenUnpickled(marker)))
    return ["audit", _config(folder, "targets:\n  - {name: vendor, type: sklearn, path: model.joblib}\nattacks: [loss]\n")]


CASES = [
    ("factory-os-system", _factory_os_system, ["config.yaml", "targets.net.factory", "'os'", "'system'", "--trust-code", "trust_code: true"]),
    ("factory-module-beside-config", _factory_beside_config, ["config.yaml", "targets.net.factory", "evil.py", "'build'", "--trust-code"]),
    ("factory-privaudit-internal", _factory_privaudit_internal, ["config.yaml", "targets.net.factory", "privaudit.demo", "--trust-code"]),
    ("factory-in-check-command", _factory_in_check, ["config.yaml", "targets.net.factory", "'os'", "--trust-code"]),
    ("factory-in-sweep", _factory_in_sweep, ["sweep.yaml", "model.factory", "'os'", "--trust-code"]),
    ("factory-kwargs-not-plain", _factory_kwargs_not_plain, ["config.yaml", "targets.net.factory_kwargs", "when", "date"]),
    ("factory-malformed", _factory_malformed, ["config.yaml", "targets.net.factory", "module:function"]),
    ("skops-eval-payload-listed", _skops_eval_payload, ["targets.evil.path", "evil.skops", "builtins.eval", "even when listed"]),
    ("pickle-model-untrusted", _pickle_model_untrusted, ["targets.vendor.path", "model.joblib", "runs code when loaded", "--trust-code"]),
    ("skops-type-not-listed", _skops_unlisted_type, ["targets.odd.path", "odd.skops", "math.fabs", "trusted_types"]),
    ("alias-bomb-factory-kwargs", _alias_bomb_in_factory_kwargs, ["config.yaml", "100000 values", "aliases"]),
    ("alias-bomb-sweep", _alias_bomb_in_sweep, ["sweep.yaml", "100000 values"]),
    ("too-many-aliases", _too_many_aliases, ["config.yaml", "more than 100 YAML aliases"]),
    ("recursive-alias", _recursive_alias, ["config.yaml", "*loop", "recursive"]),
    ("deep-nesting", _deep_nesting, ["config.yaml", "nested more than 64 levels"]),
    ("oversize-config", _oversize_config, ["config.yaml", "larger than 1 MiB"]),
    ("seed-negative", _seed_negative, ["config.yaml", "seed", "greater than or equal to 0"]),
    ("seed-too-large", _seed_too_large, ["config.yaml", "seed", "less than or equal to 4294967295"]),
    ("config-is-a-list", _config_is_a_list, ["config.yaml", "must be a mapping", "got a list"]),
    ("config-is-a-scalar", _config_is_a_scalar, ["config.yaml", "must be a mapping", "got a str"]),
    ("config-is-empty", _config_is_empty, ["config.yaml", "must be a mapping", "empty file"]),
    ("unknown-key", _unknown_key, ["config.yaml", "unknown key 'bogus_key'", "allowed keys here"]),
    ("key-with-line-break", _key_with_line_break, ["config.yaml", "unknown key", "bad\\nkey"]),
    ("not-utf8", _not_utf8, ["config.yaml", "not UTF-8", "save the config as UTF-8"]),
    ("nul-byte", _nul_bytes, ["config.yaml", "not valid YAML", "line 2"]),
    ("audit-config-is-a-folder", _audit_config_is_a_folder, ["CONFIG", "conf.d", "directory"]),
    ("sweep-config-is-a-folder", _sweep_config_is_a_folder, ["conf.d", "is a folder"]),
    ("boolean-class-names", _boolean_classes, ["config.yaml", "data.classes", "quote your class names"]),
    ("boolean-label", _boolean_label, ["config.yaml", "data.label", "quote it"]),
    ("duplicate-key", _duplicate_key, ["config.yaml", "'trust_code' is given twice", "line 4"]),
    ("python-tag", _python_tag, ["config.yaml", "python/object/apply:os.system", "no !!python tags"]),
    ("yaml-syntax", _yaml_syntax, ["config.yaml", "not valid YAML", "line"]),
    ("trust-code-not-boolean", _trust_code_not_boolean, ["config.yaml", "trust_code"]),
    ("ray-address-in-config", _ray_address_in_config, ["config.yaml", "compute.ray_address", "pickled", "--ray-address"]),
    ("ray-address-in-sweep", _ray_address_in_sweep, ["sweep.yaml", "compute.ray_address", "--trust-code"]),
    ("n-jobs-fork-bomb", _n_jobs_fork_bomb, ["config.yaml", "compute.n_jobs", "less than or equal to 1024"]),
    ("attack-name-not-a-string", _attack_name_not_a_string, ["config.yaml", "attacks", "named by a string"]),
    ("skops-payload-as-transform", _trusted_types_dangerous_in_transform, ["targets.api.transform", "evil.skops", "builtins.eval"]),
    ("precomputed-reference-no-features", _precomputed_reference_without_features,
     ["targets.vendor.reference", "data.csv", "no feature columns", "data.features"]),
]


@pytest.mark.parametrize("setup, names", [pytest.param(setup, names, id=case) for case, setup, names in CASES])
def test_hostile_config_is_one_line_error_and_runs_nothing(tmp_path, setup, names):
    _write_data(tmp_path)
    marker = tmp_path / "MARKER"
    argv = setup(tmp_path, marker)
    before = snapshot(tmp_path)
    outcome = run_cli(argv)
    assert_one_line_error(outcome, code=2, names=names)
    assert not marker.exists(), "code named by the hostile config ran"
    assert_unchanged(before, tmp_path)


def test_battery_size():
    assert len({case for case, _, _ in CASES}) >= 18


# --- the trust switch: a legitimate factory runs once trusted --------------------------------------------------

FACTORY = """\
import torch

def build(n_inputs, n_classes, hidden=8):
    return torch.nn.Sequential(torch.nn.Linear(n_inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_classes))
"""


def _trusted_factory_folder(folder: Path, module: str) -> None:
    import torch
    from safetensors.torch import save_file

    _write_data(folder)
    (folder / f"{module}.py").write_text(FACTORY)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    save_file(net.state_dict(), str(folder / "w.safetensors"))


def _factory_config(folder: Path, module: str, trust_line: str) -> Path:
    return _config(folder, f"""
        {trust_line}
        targets:
          - {{name: net, type: torch, weights: w.safetensors, factory: "{module}:build", factory_kwargs: {{n_inputs: 2, n_classes: 2}}}}
        attacks: [loss]
        metrics: {{bootstrap: 50}}
        output: report
        """)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["config", "flag"])
def test_trusted_factory_beside_the_config_loads_and_the_audit_runs(tmp_path, how, one_torch_thread):
    module = f"trusted_net_{how}"
    _trusted_factory_folder(tmp_path, module)
    config = _factory_config(tmp_path, module, "trust_code: true" if how == "config" else "")
    refused = run_cli(["audit", config, "-q"])
    if how == "flag":  # without the flag the same config is refused, naming the module and the way in
        assert_one_line_error(refused, code=2, names=[f"{module}.py", "--trust-code"])
    outcome = run_cli(["audit", config, "-q", *(["--trust-code"] if how == "flag" else [])])
    assert outcome.escaped is None and outcome.code == 0, outcome.err
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["run"]["trust"] == {"trust_code": True, "factories": {"net": f"{module}:build"}, "pickles": {}, "trusted_types": {}}
    assert [r["attack"] for r in report["results"]] and report["targets"][0]["name"] == "net"


def test_trusted_factory_with_wrong_kwargs_is_a_one_line_error(tmp_path):
    module = "trusted_net_kwargs"
    _trusted_factory_folder(tmp_path, module)
    config = _config(tmp_path, f"""
        trust_code: true
        targets:
          - {{name: net, type: torch, weights: w.safetensors, factory: "{module}:build", factory_kwargs: {{n_inputs: 2, n_classes: 2, bogus: 1}}}}
        """)
    assert_one_line_error(run_cli(["audit", config]), code=2, names=["targets.net.factory_kwargs", "bogus", "parameters: n_inputs"])


def test_skops_listed_extra_types_are_echoed_in_the_trust_summary(tmp_path):
    from privaudit.config import load_config
    from privaudit.trust import trust_summary

    config, _ = load_config(_config(tmp_path, """
        targets:
          - {name: a, type: sklearn, path: a.skops, trusted_types: [math.fabs, numpy.dtype, sklearn.tree._tree.Tree]}
        """))
    assert trust_summary(config) == {"trust_code": False, "factories": {}, "pickles": {},
                                     "trusted_types": {"a": ["math.fabs", "sklearn.tree._tree.Tree"]}}


def test_eval_payload_is_real(tmp_path):
    """The payload of the skops case runs when skops is told to trust it: the refusal above is what stops it."""
    import skops.io as sio

    marker = tmp_path / "MARKER"
    path = _eval_payload_skops(tmp_path, marker)
    model = sio.load(path, trusted=["builtins.eval", "functools.partial"])
    model.predict_proba(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    assert marker.exists()
