"""Bad-input battery, HTTP part (issue 13): hostile servers and careless configs, end to end through ``privaudit audit``.

Each case runs the real CLI (in process, or in a subprocess for Ctrl-C) against a raw-socket server on
127.0.0.1 (tests/http_faults.py) and asserts the exit code, one ``privaudit: error:`` line naming the URL
(redacted) and the config field to change, no traceback, that nothing written (report folder, cache)
and nothing printed holds a secret, and that an earlier report is not lost. No request ever leaves the
machine: the plain-http refusals name a remote host that is never contacted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

pytest.importorskip("httpx")

from hostile import assert_one_line_error, assert_unchanged, run_cli, snapshot  # noqa: E402
from http_faults import FaultServer, forbid_non_loopback  # noqa: E402

TOKEN = "Bearer s3cr3t-Tok3n-9d2e71"  # mixed case, so lower-/upper-cased echoes differ from it
TOKEN_VARIABLE = "PRIVAUDIT_HOSTILE_TOKEN"
PASSWORD = "pa55w0rd-7f3a91"
API_KEY = "k3y-0c4d9e2b77"
SECRETS = (TOKEN.split()[1], PASSWORD, API_KEY)


def _records(folder: Path, n_each: int = 30) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "record_id": [f"rec-{i:04d}" for i in range(3 * n_each)],
        "x0": rng.normal(size=3 * n_each).round(6), "x1": rng.normal(size=3 * n_each).round(6),
        "label": rng.integers(0, 2, size=3 * n_each),
        "role": np.repeat(["member", "nonmember", "population"], n_each),
    })
    frame.to_csv(folder / "records.csv", index=False)


def _config(folder: Path, url: str, **target) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "records.csv").exists():
        _records(folder)
    spec = {"name": "api", "type": "http", "url": url, "protocol": "json", "response": "$.predictions", "batch_size": 20,
            "concurrency": 2, "timeout_s": 1.0, "retries": 0, "backoff_s": 0.01, "cache": "http-cache", **target}
    config = {"data": {"path": "records.csv", "label": "label", "id_column": "record_id", "membership": {"column": "role"}},
              "targets": [spec], "metrics": {"bootstrap": 50}, "output": "report"}
    path = folder / "audit.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _assert_no_secret(folder: Path, outcome, secrets=SECRETS) -> None:
    """No secret, in any case, in any file under ``folder`` (report, cache; not the user's own audit.yaml) or in what was printed."""
    texts = {str(p): p.read_bytes().decode("utf-8", "replace").lower() for p in folder.rglob("*") if p.is_file() and p.name != "audit.yaml"}
    texts["<stdout>"], texts["<stderr>"] = outcome.out.lower(), outcome.err.lower()
    for secret in secrets:
        for where, text in texts.items():
            assert secret.lower() not in text, f"{secret!r} written to {where}"


def _audit(config: Path, env: dict | None = None, out: Path | None = None):
    argv = ["audit", str(config), "-q"] + (["--out", str(out)] if out is not None else [])
    return run_cli(argv, env={TOKEN_VARIABLE: TOKEN, **(env or {})})


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Whatever the code under test does, nothing here resolves or connects to a host that is not this machine."""
    forbid_non_loopback(monkeypatch)


@pytest.fixture
def earlier_report(tmp_path):
    """A report folder from an earlier run, which no failed audit may touch."""
    from privaudit.output_folder import OutputFolder

    folder = tmp_path / "audit" / "report"
    with OutputFolder(folder, command="audit", names=("report.json",)) as out:  # written by privaudit, so a rerun may go there
        out.write_text("report.json", '{"earlier": true}\n')
        out.commit()
    return folder


# -- deadlines and size caps --------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["trickle_body", "trickle_headers", "silent"])
def test_slow_server_stops_at_the_deadline(tmp_path, earlier_report, mode):
    before = snapshot(earlier_report)
    with FaultServer(mode, interval_s=0.05, max_seconds=6.0) as server:
        outcome = _audit(_config(tmp_path / "audit", f"{server.url}/predict?api_key={API_KEY}", timeout_s=0.6))
        sent_when_stopped = server.bytes_sent
    line = assert_one_line_error(outcome, code=2, names=[f"{server.url}/predict?api_key=***", "timeout_s = 0.6 s", "raise timeout_s"])
    assert "batch 1 of" in line or "batch 2 of" in line
    if mode != "silent":  # the server was still trickling: the answer was cut off by the deadline, not completed
        assert 0 < sent_when_stopped < 10_000
    assert_unchanged(before, earlier_report)
    _assert_no_secret(tmp_path, outcome)


@pytest.mark.parametrize("mode", ["huge_length", "huge_close", "huge_chunked", "gzip_bomb"])
def test_oversized_answer_is_refused_while_streaming(tmp_path, earlier_report, mode):
    before = snapshot(earlier_report)
    with FaultServer(mode, huge_bytes=(256 if mode == "gzip_bomb" else 16) * 1024 * 1024) as server:
        outcome = _audit(_config(tmp_path / "audit", f"{server.url}/predict", max_response_bytes=1_000_000, timeout_s=20))
        sent = server.bytes_sent
    line = assert_one_line_error(outcome, code=2, names=[f"{server.url}/predict", "max_response_bytes = 1,000,000", "raise max_response_bytes"])
    assert ("Content-Length is 10,000,000,000 bytes" in line) == (mode == "huge_length")
    assert sent < 16 * 1024 * 1024, "the client read the whole oversized body instead of stopping at the cap"
    assert_unchanged(before, earlier_report)


# -- secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["raw", "lower", "upper", "url", "base64", "label"])
def test_answer_echoing_the_token_is_neither_cached_nor_shown(tmp_path, earlier_report, how):
    before = snapshot(earlier_report)
    outputs = {"outputs": "labels"} if how == "label" else {}
    with FaultServer(f"echo_{how}") as server:
        config = _config(tmp_path / "audit", f"{server.url}/predict", headers_from_env={"Authorization": TOKEN_VARIABLE}, **outputs)
        outcome = _audit(config)
    assert_one_line_error(outcome, code=2, names=[f"{server.url}/predict", TOKEN_VARIABLE, "neither cached nor shown"])
    assert not list((tmp_path / "audit" / "http-cache").glob("*.json")), "an answer holding the token was cached"
    _assert_no_secret(tmp_path, outcome)
    assert_unchanged(before, earlier_report)


def test_user_info_and_query_values_stay_out_of_report_cache_and_terminal(tmp_path):
    with FaultServer("ok") as server:
        url = f"http://auditor:{PASSWORD}@127.0.0.1:{server.port}/predict?api_key={API_KEY}&version=7"
        outcome = _audit(_config(tmp_path / "audit", url))
        assert server.answered >= 1
    assert outcome.code == 0, outcome.err + (outcome.escaped or "")
    report = json.loads((tmp_path / "audit" / "report" / "report.json").read_text())
    assert report["run"]["config"]["targets"][0]["url"] == f"http://***@127.0.0.1:{server.port}/predict?api_key=***&version=***"
    assert (tmp_path / "audit" / "report" / "report.html").is_file()
    assert list((tmp_path / "audit" / "http-cache").glob("*.json"))
    _assert_no_secret(tmp_path, outcome)


def test_an_error_never_shows_the_url_secrets(tmp_path):
    with FaultServer("malformed") as server:
        outcome = _audit(_config(tmp_path / "audit", f"http://auditor:{PASSWORD}@127.0.0.1:{server.port}/predict?api_key={API_KEY}"))
    assert_one_line_error(outcome, code=2, names=[f"http://***@127.0.0.1:{server.port}/predict?api_key=***", "not valid JSON"])
    _assert_no_secret(tmp_path, outcome)


@pytest.mark.parametrize("url, credential", [
    ("http://models.example.invalid/predict", "token"),
    ("http://auditor:{password}@models.example.invalid/predict", "userinfo"),
    ("http://10.0.0.7:8080/predict", "token"),
])
def test_credentials_over_plain_http_to_a_remote_host_are_refused_before_any_connection(tmp_path, url, credential):
    target = {"headers_from_env": {"Authorization": TOKEN_VARIABLE}} if credential == "token" else {}
    outcome = _audit(_config(tmp_path / "audit", url.format(password=PASSWORD), **target))
    line = assert_one_line_error(outcome, code=2, names=["allow_insecure_http: true", "plain http://", "https://"])
    assert ("Authorization header" in line) == (credential == "token")
    assert not (tmp_path / "audit" / "http-cache").exists()
    _assert_no_secret(tmp_path, outcome)


def test_allow_insecure_http_lets_a_loopback_alias_and_an_opted_in_config_through(tmp_path):
    with FaultServer("ok") as server:
        outcome = _audit(_config(tmp_path / "audit", f"http://localhost:{server.port}/predict", headers_from_env={"Authorization": TOKEN_VARIABLE}))
    assert outcome.code == 0, outcome.err
    from privaudit.targets import HTTPTarget

    HTTPTarget("http://models.example.invalid/predict", headers={"Authorization": TOKEN}, allow_insecure_http=True)  # built, never sent


# -- answers that are wrong -----------------------------------------------------------------------


@pytest.mark.parametrize("mode, names", [
    ("malformed", ["not valid JSON"]),
    ("wrong_shape", ["response path $.predictions", "answers for"]),
    ("html", ["not valid JSON", "<html>"]),
    ("error_500", ["HTTP 500", "after 1 attempt"]),
])
def test_wrong_answers_are_one_line_errors_naming_the_url(tmp_path, earlier_report, mode, names):
    before = snapshot(earlier_report)
    with FaultServer(mode) as server:
        outcome = _audit(_config(tmp_path / "audit", f"{server.url}/predict"))
    assert_one_line_error(outcome, code=2, names=[f"{server.url}/predict", "batch ", *names])
    assert_unchanged(before, earlier_report)


# -- Ctrl-C --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_during_an_http_audit_stops_within_two_seconds_and_keeps_the_cache_valid(tmp_path):
    """SIGINT while requests hang: the audit stops (its one line printed) within 2 s and the process then exits with 130.

    The exit itself is given more room: on a busy machine the interpreter's own teardown of the ~1800 modules an
    audit imports takes about 2 s after the last line of Python code (measured with a process that only imports them).
    """
    import threading

    with FaultServer("ok_then_silent", ok_requests=2, max_seconds=60.0) as server:
        config = _config(tmp_path / "audit", f"{server.url}/predict", timeout_s=60, concurrency=2)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        process = subprocess.Popen([sys.executable, "-m", "privaudit.cli", "audit", str(config), "-q"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, env=env)
        lines: list[tuple[float, str]] = []
        reader = threading.Thread(target=lambda: lines.extend((time.monotonic(), line.rstrip("\n")) for line in process.stderr), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 60
            while (server.requests < 3 or server.answered < 2) and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.05)
            assert server.requests >= 3 and server.answered == 2, (server.requests, server.answered, process.poll(), lines)
            time.sleep(0.3)  # a request the server never answers is in flight
            signalled = time.monotonic()
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
            exited = time.monotonic() - signalled
            reader.join(timeout=5)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 130, lines
    assert [line for _, line in lines if line.strip()] == ["privaudit: error: interrupted"], lines
    stopped = lines[0][0] - signalled
    assert stopped < 2.0, f"'interrupted' printed {stopped:.2f} s after Ctrl-C"
    assert exited < 10.0, f"exit {exited:.2f} s after Ctrl-C"
    cache = tmp_path / "audit" / "http-cache"
    files = list(cache.iterdir())
    assert len(files) == 2 and all(p.suffix == ".json" for p in files), files  # the two answers, no temporary files
    for path in files:
        assert json.loads(path.read_text())["shape"] == [20, 2]
