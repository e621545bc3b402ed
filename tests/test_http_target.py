"""HTTP targets against a real server (FastAPI + uvicorn on 127.0.0.1, a free port, in a thread).

The server (privaudit.testing) serves a scikit-learn model in the three protocols and can misbehave on
purpose. Black-box audits through it must give the in-process scores; with faults they must finish with
the same scores or stop with a clear error that keeps what was answered, and a rerun must finish from
the cache without re-sending answered batches; budgets stop cleanly; secrets stay out of everything.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from sklearn.compose import make_column_transformer  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder  # noqa: E402

from privaudit.pipeline import audit  # noqa: E402
from privaudit.config import parse_config  # noqa: E402
from privaudit.data import audit_data_from_frame  # noqa: E402
from privaudit.datasets import make_synthetic_tabular  # noqa: E402
from privaudit.exceptions import ConfigError, DataError, TargetError  # noqa: E402
from privaudit.testing import Faults, RunningServer, build_app  # noqa: E402
from privaudit.targets import HTTPTarget, SklearnTarget, load_target  # noqa: E402
from privaudit.targets.http import retry_after_seconds  # noqa: E402
from privaudit.targets.http_protocols import ResponseFormatError, decode_outputs, extract, parse_response_path  # noqa: E402

N_EACH = 200  # members, non-members and population records
PROTOCOLS = {
    "json": {"path": "/predict", "options": {"request": {"instances": "{records}"}, "response": "$.predictions[*].probabilities"}},
    "mlflow": {"path": "", "options": {}},
    "kserve_v2": {"path": "", "options": {"model_name": "forest"}},
}
LABEL_OPTIONS = {"json": {"response": "$.predictions[*].label"}, "mlflow": {}, "kserve_v2": {"model_name": "forest"}}


# -- fixtures -------------------------------------------------------------------------------


def _frame(numeric_only: bool = False) -> pd.DataFrame:
    frame = make_synthetic_tabular(3 * N_EACH, seed=1)
    frame["role"] = np.repeat(["member", "nonmember", "population"], N_EACH)
    if numeric_only:  # values a float32 tensor carries exactly
        frame = frame.drop(columns=["colour"])
        numeric = [c for c in frame.columns if c.startswith("x")]
        frame[numeric] = frame[numeric].astype(np.float32).astype(np.float64)
    return frame


@pytest.fixture(scope="module")
def data():
    return audit_data_from_frame(_frame(), label="label", id_column="record_id", membership_column="role")


def _fit_forest(data):
    records = data.records
    features = records.features
    categorical = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    steps = [make_column_transformer((OneHotEncoder(), categorical), remainder="passthrough")] if categorical else []
    model = make_pipeline(*steps, RandomForestClassifier(n_estimators=40, random_state=0))
    members = data.members
    return model.fit(features.iloc[members], np.array(records.classes)[records.labels[members]])


@pytest.fixture(scope="module")
def local(data):
    return SklearnTarget(_fit_forest(data), name="local")


@pytest.fixture(scope="module")
def server(data, local):
    app = build_app(local, classes=data.records.classes, features=list(data.records.features.columns), model_name="forest")
    with RunningServer(app) as running:
        yield running


@pytest.fixture(scope="module")
def label_server(data, local):
    app = build_app(local, classes=data.records.classes, features=list(data.records.features.columns), model_name="forest", labels_only=True)
    with RunningServer(app) as running:
        yield running


@pytest.fixture(autouse=True)
def _healthy(request):
    """Every test starts with a well-behaved server and an empty request log."""
    for name in ("server", "label_server"):
        if name in request.fixturenames:
            running = request.getfixturevalue(name)
            running.app.faults = Faults()
            running.app.log.clear()
    yield


def _target(server, protocol: str = "mlflow", **options) -> HTTPTarget:
    settings = {"batch_size": 64, "concurrency": 3, "timeout_s": 5.0, "backoff_s": 0.01, **PROTOCOLS[protocol]["options"], **options}
    return HTTPTarget(server.url + PROTOCOLS[protocol]["path"], name="api", protocol=protocol, **settings)


def _audit(data, target, attacks=None):
    return audit(data, [target], attacks, n_bootstrap=50, seed=0)


def _assert_same_scores(http_result, local_result):
    assert [r.attack for r in http_result.results] == [r.attack for r in local_result.results]
    assert len(http_result.results) >= 1
    for ours, theirs in zip(http_result.results, local_result.results):
        np.testing.assert_allclose(ours.scores, theirs.scores, rtol=1e-12, atol=1e-12, err_msg=ours.attack)
        assert ours.metrics.auc == pytest.approx(theirs.metrics.auc, abs=1e-12)


def _n_batches(n: int, batch_size: int = 64) -> int:
    return math.ceil(n / batch_size)


# -- pure parts: response paths, decoding, Retry-After -------------------------------------


def test_response_paths_parse_and_walk():
    document = {"outputs": [{"name": "label", "data": [1]}, {"name": "probabilities", "data": [0.2, 0.8]}], "odd key.x": 3}
    assert extract(document, parse_response_path("$.outputs[name=probabilities].data")) == [0.2, 0.8]
    assert extract(document, parse_response_path("outputs[-1].data[1]")) == 0.8
    assert extract(document, parse_response_path('$["odd key.x"]')) == 3
    assert extract(document, parse_response_path("$.outputs[*].name")) == ["label", "probabilities"]
    assert parse_response_path("$") == ()


@pytest.mark.parametrize("path, message", [("$.outputs[2]", "out of range"), ("$.nothing", "no key 'nothing'"),
                                           ("$.outputs.name", "expected a mapping"), ("$.outputs[name=x]", "no element")])
def test_response_path_errors_say_where(path, message):
    with pytest.raises(ResponseFormatError, match=message):
        extract({"outputs": [{"name": "a"}]}, parse_response_path(path))


@pytest.mark.parametrize("path", ["$.a..b", "$.a[x", "predictions[*]probabilities", "$.a[1.5]"])
def test_bad_response_paths_are_config_errors(path):
    with pytest.raises(ConfigError, match="cannot read"):
        parse_response_path(path)


def test_decode_outputs_accepts_rows_mappings_and_tensors_and_refuses_the_rest():
    rows = decode_outputs([{"yes": 0.75, "no": 0.25}], n_records=1, output_kind="probabilities", classes=("no", "yes"))
    assert rows.tolist() == [[0.25, 0.75]]
    tensor = {"name": "p", "shape": [2, 2], "datatype": "FP64", "data": [0.1, 0.9, 0.6, 0.4]}
    assert decode_outputs(tensor, n_records=2, output_kind="probabilities", classes=(0, 1)).tolist() == [[0.1, 0.9], [0.6, 0.4]]
    assert decode_outputs([[1], ["0"]], n_records=2, output_kind="labels", classes=(0, 1)) == ["1", "0"]
    for value, message in (([[0.5, 0.5]], "1 answers for 2"), ([[0.5], [0.5]], "expected 2"), ([[0.5, "x"], [1, 0]], "not a number"),
                           ([[float("nan"), 1.0], [0, 1]], "NaN"), ({"shape": [2, 2], "data": [1, 2, 3]}, "holds 3 values")):
        with pytest.raises(ResponseFormatError, match=message):
            decode_outputs(value, n_records=2, output_kind="probabilities", classes=(0, 1))


def test_retry_after_reads_seconds_and_http_dates():
    from datetime import datetime, timezone

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:05 GMT", now=now) == pytest.approx(5.0)
    assert retry_after_seconds("-4") == 0.0 and retry_after_seconds("later") is None


# -- the same scores through every protocol -------------------------------------------------


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_black_box_audit_gives_the_in_process_scores(protocol, data, local, server):
    target = _target(server, protocol)
    result = _audit(data, target)
    _assert_same_scores(result, _audit(data, local))
    n_audited, n_population = 2 * N_EACH, N_EACH
    stats = result.api_calls["api"]
    assert stats["records_sent"] == stats["records_answered"] == n_audited + n_population
    assert stats["requests"] == _n_batches(n_audited) + _n_batches(n_population) == len(server.app.log.hits)
    assert stats["max_sends_per_record"] == 1 and stats["retries"] == 0 and stats["protocol"] == protocol
    assert set(target.record_query_counts()) == set(data.records.ids.astype(str))


def test_kserve_single_fp32_tensor_gives_the_in_process_scores():
    data = audit_data_from_frame(_frame(numeric_only=True), label="label", id_column="record_id", membership_column="role")
    local = SklearnTarget(_fit_forest(data), name="local")
    app = build_app(local, classes=data.records.classes, features=list(data.records.features.columns), model_name="forest")
    with RunningServer(app) as running:
        target = HTTPTarget(running.url, name="api", protocol="kserve_v2", model_name="forest", input_tensor="input-0", batch_size=128)
        _assert_same_scores(_audit(data, target), _audit(data, local))
        with pytest.raises(DataError, match="not numeric"):
            HTTPTarget(running.url, protocol="kserve_v2", model_name="forest", input_tensor="input-0").predict(
                audit_data_from_frame(_frame(), label="label", id_column="record_id", membership_column="role").records)


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_label_only_api_gives_the_in_process_correctness(protocol, data, local, label_server):
    target = HTTPTarget(label_server.url + PROTOCOLS[protocol]["path"], name="api", protocol=protocol, output_kind="labels", batch_size=100,
                        **LABEL_OPTIONS[protocol])
    local_labels = SklearnTarget(local.estimator, name="local", output_kind="labels")
    attacks = None if protocol == "mlflow" else ["correctness"]  # every label-only attack once (they query perturbed records too)
    result = _audit(data, target, attacks)
    assert "threshold[correctness]" in [r.attack for r in result.results]
    _assert_same_scores(result, _audit(data, local_labels, attacks))
    with pytest.raises(TargetError, match="not classes of the data"):
        HTTPTarget(label_server.url, protocol="mlflow", output_kind="labels").predict(
            audit_data_from_frame(_frame().assign(label=lambda f: f["label"] + 5), label="label", id_column="record_id", membership_column="role").records)


def test_probabilities_requested_from_a_label_only_api_is_a_clear_error(label_server, data):
    with pytest.raises(TargetError) as caught:
        HTTPTarget(label_server.url, protocol="mlflow", concurrency=1).predict(data.records)
    message = str(caught.value)
    assert "batch 1 of" in message and f"POST {label_server.url}/invocations" in message
    assert "outputs: probabilities" in message and "answered 0 of" in message


# -- faults -----------------------------------------------------------------------------------


def test_faults_are_retried_and_the_audit_gives_the_same_scores(data, local, server):
    server.app.faults = Faults(error_rate=0.2, seed=0, slow=frozenset({2}), slow_s=1.0, drop=frozenset({4}), rate_limit=frozenset({6}), retry_after=1)
    target = _target(server, "mlflow", timeout_s=0.5, retries=4)
    result = _audit(data, target)
    _assert_same_scores(result, _audit(data, local))
    hits = server.app.log.hits
    faults = [hit[4] for hit in hits if hit[4] is not None]
    assert {"slow", "drop", "rate_limit", "error"} <= set(faults)
    n_batches = _n_batches(2 * N_EACH) + _n_batches(N_EACH)
    assert target.query_stats()["retries"] == len(hits) - n_batches == len(faults)
    limited = next(hit for hit in hits if hit[4] == "rate_limit")
    retry = next(hit for hit in hits if hit[2] == limited[2] and hit[0] > limited[0])
    assert retry[5] - limited[5] >= 0.95  # Retry-After: 1 honoured


def test_retries_give_up_with_a_clear_error(data, server):
    server.app.faults = Faults(error_rate=1.0)
    with pytest.raises(TargetError) as caught:
        _target(server, "mlflow", concurrency=1, retries=2).predict(data.records)
    message = str(caught.value)
    assert "HTTP 503" in message and "after 3 attempts (retries = 2)" in message and "batch 1 of 10" in message
    assert len(server.app.log.hits) == 3  # the first batch three times, then nothing more


def test_malformed_json_stops_cleanly_and_a_rerun_resumes_from_the_cache(tmp_path, data, local, server):
    server.app.faults = Faults(malformed=frozenset({3}))
    cache = tmp_path / "cache"
    first = _target(server, "kserve_v2", concurrency=2, cache=cache)
    with pytest.raises(TargetError) as caught:
        _audit(data, first)
    message = str(caught.value)
    assert f"POST {server.url}/v2/models/forest/infer" in message and "not valid JSON" in message
    assert "batch " in message and "a rerun sends only the rest" in message
    answered = server.app.log.answered()
    assert 1 <= len(answered) < _n_batches(2 * N_EACH)
    assert len(list(cache.glob("*.json"))) == len(answered)
    assert not list(cache.glob(".tmp-*"))

    server.app.faults = Faults()
    server.app.log.clear()
    second = _target(server, "kserve_v2", concurrency=2, cache=cache)
    _assert_same_scores(_audit(data, second), _audit(data, local))
    resent = server.app.log.digests()
    assert not set(resent) & answered, "answered batches were sent again"
    assert len(resent) == _n_batches(2 * N_EACH) + _n_batches(N_EACH) - len(answered)
    assert second.query_stats()["records_from_cache"] == sum(1 for _ in answered) * 64


def test_query_budget_stops_cleanly_and_a_rerun_spends_a_new_budget(tmp_path, data, server):
    audited = data.records.subset(data.audited)  # 400 records: 4 batches of 100
    cache = tmp_path / "cache"
    first = _target(server, "json", batch_size=100, concurrency=1, max_queries=250, cache=cache)
    with pytest.raises(TargetError, match=r"query budget spent: max_queries = 250 records per run, 200 sent so far") as caught:
        first.predict(audited)
    assert "answered 2 of 4 batches (200 of 400 records)" in str(caught.value)
    assert first.query_stats()["records_sent"] == 200 <= 250
    assert len(server.app.log.hits) == 2 and len(list(cache.glob("*.json"))) == 2

    second = _target(server, "json", batch_size=100, concurrency=1, max_queries=250, cache=cache)
    outputs = second.predict(audited)
    assert outputs.shape == (400, 2) and len(server.app.log.hits) == 4
    assert second.query_stats()["records_sent"] == 200 and second.query_stats()["records_from_cache"] == 200


def test_cached_answers_that_do_not_fit_are_refused(tmp_path, data, server):
    records = data.records.subset(np.arange(64))
    cache = tmp_path / "cache"
    _target(server, cache=cache).predict(records)
    (entry,) = cache.glob("*.json")
    document = json.loads(entry.read_text())
    entry.write_text(json.dumps({**document, "key": "0" * 64}))
    with pytest.raises(DataError, match="delete it to query the API again"):
        _target(server, cache=cache).predict(records)


# -- configs, secrets ----------------------------------------------------------------------------

SECRET = "Bearer s3cr3t-token-4f1c9e"


def _write_audit_folder(folder: Path, url: str, **target) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _frame().to_csv(folder / "records.csv", index=False)
    config = {
        "data": {"path": "records.csv", "label": "label", "id_column": "record_id", "membership": {"column": "role"}},
        "targets": [{"name": "api", "type": "http", "url": url, "protocol": "mlflow", "batch_size": 64, "cache": "http-cache", **target}],
        "metrics": {"bootstrap": 50},
        "output": "report",
    }
    import yaml

    path = folder / "audit.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_secrets_stay_out_of_cache_logs_reports_and_errors(tmp_path, monkeypatch, caplog, capsys, data, local):
    from privaudit.cli import main

    app = build_app(local, classes=data.records.classes, features=list(data.records.features.columns), token=SECRET,
                    faults=Faults(echo_credentials=True))
    caplog.set_level(logging.DEBUG)
    with RunningServer(app) as running:
        config = _write_audit_folder(tmp_path / "audit", running.url, headers_from_env={"Authorization": "PRIVAUDIT_API_TOKEN"})
        monkeypatch.setenv("PRIVAUDIT_API_TOKEN", SECRET)
        with pytest.raises(SystemExit) as exited:
            main(["audit", str(config), "-q"])
        assert exited.value.code == 0
        report = json.loads((tmp_path / "audit" / "report" / "report.json").read_text())
        assert report["run"]["api_calls"]["api"]["records_sent"] == 3 * N_EACH
        assert report["run"]["config"]["targets"][0]["headers_from_env"] == {"Authorization": "PRIVAUDIT_API_TOKEN"}
        written = [p.read_text(errors="replace") for p in (tmp_path / "audit").rglob("*") if p.is_file()]  # cache, report, data
        assert len(list((tmp_path / "audit" / "http-cache").glob("*.json"))) == _n_batches(2 * N_EACH) + _n_batches(N_EACH)
        target = load_target(parse_config(__import__("yaml").safe_load(config.read_text())).targets[0].model_dump(), config.parent, "api")

        shutil.rmtree(tmp_path / "audit" / "http-cache")  # cached answers are served whatever the credentials
        monkeypatch.setenv("PRIVAUDIT_API_TOKEN", "Bearer wrong-credential-77")
        with pytest.raises(SystemExit) as exited:  # the careless server echoes the wrong token in its 401 answer
            main(["audit", str(config), "-q", "--out", str(tmp_path / "second")])
        assert exited.value.code == 2
    out = capsys.readouterr()
    error = out.err
    assert "HTTP 401" in error and "check headers_from_env" in error and "repeats a credential and is not shown" in error
    assert "wrong-credential-77" not in error
    everything = "\n".join([caplog.text, out.out, error, repr(target)] + written)
    assert "HTTP Request: POST" in caplog.text  # httpx's own log lines were captured and checked
    for secret in ("s3cr3t-token-4f1c9e", "wrong-credential-77"):
        assert secret not in everything
    assert "PRIVAUDIT_API_TOKEN" in everything  # the variable's name may appear, its value never


def test_missing_environment_variable_is_a_config_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.delenv("PRIVAUDIT_TEST_UNSET_TOKEN", raising=False)
    spec = {"url": "http://127.0.0.1:9/x", "headers_from_env": {"Authorization": "PRIVAUDIT_TEST_UNSET_TOKEN"}}
    with pytest.raises(ConfigError, match="environment variable PRIVAUDIT_TEST_UNSET_TOKEN is not set"):
        load_target({"type": "http", **spec}, tmp_path, "api")


@pytest.mark.parametrize("target, message", [
    ({"protocol": "mlflow", "urll": "x"}, "unknown key 'targets.0.urll'"),
    ({"protocol": "grpc"}, "targets.0.protocol"),
    ({"response": "$.a[b"}, "cannot read"),
    ({"concurrency": 0}, "targets.0.concurrency"),
])
def test_http_config_keys_are_checked(target, message):
    raw = {"data": {"path": "d.csv", "label": "y", "membership": {"column": "m"}},
           "targets": [{"name": "api", "type": "http", "url": "http://127.0.0.1:9/predict", **target}]}
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("$", r"\$")):
        parse_config(raw)


def test_http_target_needs_its_url_and_protocol_options(server):
    with pytest.raises(ConfigError, match="missing required key 'targets.0.url'"):
        parse_config({"data": {"path": "d.csv", "label": "y", "membership": {"column": "m"}}, "targets": [{"name": "a", "type": "http"}]})
    with pytest.raises(ConfigError, match="kserve_v2 needs model_name"):
        HTTPTarget(server.url, protocol="kserve_v2")
    with pytest.raises(ConfigError, match="does not use request"):
        HTTPTarget(server.url, protocol="mlflow", request={"x": "{rows}"})
    with pytest.raises(ConfigError, match="placeholder"):
        HTTPTarget(server.url, protocol="json", request={"x": 1})
    with pytest.raises(ConfigError, match="http:// or https://"):
        HTTPTarget("ftp://user:pw@example.com/x")


def test_connection_refused_is_retried_then_reported_without_the_query_string(data):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = HTTPTarget(f"http://127.0.0.1:{port}/predict?api_key=k-123456", retries=1, backoff_s=0.01, concurrency=1)
    with pytest.raises(TargetError) as caught:
        target.predict(data.records.subset(np.arange(10)))
    message = str(caught.value)
    assert "connection failed (ConnectError" in message and "after 2 attempts" in message
    assert f"http://127.0.0.1:{port}/predict" in message and "k-123456" not in message


# -- privaudit serve-example --------------------------------------------------------------------


def _fake_demo(folder: Path, data) -> None:
    """A demo-like folder: the records, a skops model named overfit_mlp and a config.yaml (no training of MLPs)."""
    import skops.io as sio
    import yaml

    folder.mkdir(parents=True)
    _frame().to_parquet(folder / "records.parquet", index=False)
    sio.dump(_fit_forest(data), folder / "forest.skops")
    trusted = sorted(sio.get_untrusted_types(file=folder / "forest.skops"))
    config = {"seed": 0, "data": {"path": "records.parquet", "label": "label", "id_column": "record_id", "membership": {"column": "role"}},
              "targets": [{"name": "overfit_mlp", "type": "sklearn", "path": "forest.skops", "trusted_types": trusted}],
              "metrics": {"bootstrap": 50}, "output": "."}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))


def test_serve_example_then_audit_in_two_commands(tmp_path, data):
    from privaudit.pipeline import run_audit
    from privaudit.config import load_config

    demo = tmp_path / "privaudit-demo"
    _fake_demo(demo, data)
    command = [sys.executable, "-c", "from privaudit.cli import main; main()", "serve-example", "--dir", str(demo), "--port", "0", "--protocol", "kserve_v2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines, deadline = [], time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops the server" in line:
                break
        printed = "".join(lines)
        assert "Ctrl-C stops the server" in printed, printed + process.stderr.read() if process.poll() is not None else printed
        assert f"privaudit audit {demo / 'http-audit.yaml'}" in printed and "type: http" in printed
        http_config, base_dir = load_config(demo / "http-audit.yaml")
        assert http_config.targets[0].protocol == "kserve_v2" and http_config.targets[0].model_name == "overfit_mlp"
        through_http = run_audit(http_config, base_dir)
        in_process = run_audit(*load_config(demo / "config.yaml"))
        _assert_same_scores(through_http, in_process)
        assert through_http.api_calls["overfit_mlp_api"]["records_sent"] == 3 * N_EACH
    finally:
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
    assert process.returncode == 0, err
    assert "server stopped" in out


def test_serve_example_without_a_demo_folder_says_how_to_make_one(tmp_path, capsys):
    from privaudit.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve-example", "--dir", str(tmp_path / "missing")])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "config.yaml not found" in error and f"privaudit demo --out {tmp_path / 'missing'}" in error


def test_readme_http_target_example_is_a_valid_config():
    import re

    import yaml

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Audit a deployed model over HTTP", 1)[1].split("\n## ", 1)[0]
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", section, re.S) if "type: http" in b]
    raw = {"data": {"path": "d.csv", "label": "y", "membership": {"column": "m"}}, **yaml.safe_load(block)}
    target = parse_config(raw).targets[0]
    assert (target.type, target.protocol, target.outputs, target.max_queries) == ("http", "json", "probabilities", 100000)
    assert target.headers_from_env == {"Authorization": "PRIVAUDIT_API_TOKEN"}
    assert set(yaml.safe_load(block)["targets"][0]) <= set(type(target).model_fields)


def test_querying_advances_a_progress_step_per_answered_batch(server, data, local):
    """compute_signals with a reporter: each answered batch moves the count, in the calling thread."""
    import io
    import re

    from privaudit.progress import PlainReporter
    from privaudit.signals import compute_signals

    out, records = io.StringIO(), data.records
    target = _target(server, batch_size=64)
    signals = compute_signals(target, records, ["loss"], progress=PlainReporter(out, interval=0.0), description="querying api")
    np.testing.assert_allclose(signals["loss"], compute_signals(local, records, ["loss"])["loss"], rtol=1e-12)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"· querying api: 0/{len(records)} records (0 %)" and lines[-1].startswith(f"· querying api: {len(records)} records in ")
    counts = [0, *(int(re.match(r"· querying api: (\d+)/", line).group(1)) for line in lines[1:-1]), len(records)]  # a line per batch but the last
    sizes = [min(64, len(records) - start) for start in range(0, len(records), 64)]  # batches finish in any order
    assert sorted(np.diff(counts).tolist()) == sorted(sizes)
