"""Unit tests of the HTTP hardening (issue 13): redaction, secret search, loopback rule, deadline, size cap, logs.

The end-to-end battery is tests/test_hostile_http.py; these tests pin the pieces with exact cases, against
the raw-socket server of tests/http_faults.py on 127.0.0.1 where a server is needed.
"""

from __future__ import annotations

import base64
import logging
import threading
from urllib.parse import quote, quote_plus

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("httpx")

from http_faults import FaultServer, forbid_non_loopback  # noqa: E402

from privaudit.data import RecordSet  # noqa: E402
from privaudit.exceptions import ConfigError, LimitExceededError, TargetError  # noqa: E402
from privaudit.redaction import find_secret, redact_config, redact_text, redact_url, secret_patterns  # noqa: E402
from privaudit.targets import HTTPTarget, load_target  # noqa: E402
from privaudit.targets.http_transport import POLL_S, RequestLimits, Stopped, is_loopback  # noqa: E402

TOKEN = "Bearer Zx9-s3cr3t-Q7w"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    forbid_non_loopback(monkeypatch)


def _records(n: int = 10) -> RecordSet:
    features = pd.DataFrame({"x0": np.arange(n, dtype=float), "x1": np.ones(n)})
    return RecordSet(np.array([f"r{i}" for i in range(n)]), features, np.zeros(n, dtype=np.intp), ("0", "1"))


def _target(url: str, **options) -> HTTPTarget:
    settings = {"response": "$.predictions", "batch_size": 5, "concurrency": 1, "timeout_s": 2.0, "retries": 0, "backoff_s": 0.01, **options}
    return HTTPTarget(url, name="api", **settings)


# -- redaction ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url, expected", [
    ("https://api.example.com/v1/predict", "https://api.example.com/v1/predict"),
    ("https://user:pw@api.example.com:8443/p?key=abc&v=2#frag", "https://***@api.example.com:8443/p?key=***&v=***"),
    ("http://token@127.0.0.1/p", "http://***@127.0.0.1/p"),
    ("http://[::1]:8080/p?api_key=", "http://[::1]:8080/p?api_key=***"),
    ("http://h/p?justasecretvalue", "http://h/p?justasecretvalue=***"),
    ("http://u:p@h:notaport/p?k=v", "http://***@h:notaport/p?***"),
])
def test_redact_url_hides_user_info_and_query_values(url, expected):
    assert redact_url(url) == expected


def test_redact_text_and_config_reach_every_url_and_secret_key():
    text = "failed: POST http://u:pw@h/p?api_key=k1 (see https://h2/x?t=k2)."
    assert redact_text(text) == "failed: POST http://***@h/p?api_key=*** (see https://h2/x?t=***)."
    config = {"targets": [{"url": "http://u:pw@h/p?api_key=k1", "headers_from_env": {"Authorization": "TOKEN_VAR"},
                           "factory_kwargs": {"api_key": "k3", "password": "k4", "max_tokens": 5, "note": "see http://h/?q=k5"}}],
              "seed": 3}
    redacted = redact_config(config)
    assert redacted == {"targets": [{"url": "http://***@h/p?api_key=***", "headers_from_env": {"Authorization": "TOKEN_VAR"},
                                     "factory_kwargs": {"api_key": "***", "password": "***", "max_tokens": 5, "note": "see http://h/?q=***"}}],
                        "seed": 3}
    assert config["targets"][0]["url"] == "http://u:pw@h/p?api_key=k1"  # a copy: the config itself is untouched


@pytest.mark.parametrize("prefix", [b"", b"x", b"xy", b"xyz"])
@pytest.mark.parametrize("suffix", [b"", b"!", b"!?"])
def test_find_secret_sees_every_encoding_at_every_alignment(prefix, suffix):
    secrets = {"API_TOKEN": TOKEN}
    word = TOKEN.split()[1]
    for encoded, encoding in [(word, "raw or case-changed"), (word.lower(), "raw or case-changed"), (TOKEN.upper(), "raw or case-changed"),
                              (quote(TOKEN, safe=""), "URL-encoded"), (quote_plus(TOKEN).lower(), "URL-encoded"),
                              (base64.b64encode(prefix + TOKEN.encode() + suffix).decode(), "base64"),
                              (base64.urlsafe_b64encode(prefix + word.encode() + suffix).decode(), "base64")]:
        body = b'{"predictions": [[0.5, 0.5]], "echo": "' + encoded.encode() + b'"}'
        found = find_secret(body, secrets)
        assert found is not None and found[0] == "API_TOKEN", (encoded, found)
        assert found[1] == encoding or encoding == "raw or case-changed" or found[1] == "raw or case-changed"
    assert find_secret(b'{"predictions": [[0.5, 0.5]], "bearer": "token"}', secrets) is None


def test_short_secrets_are_not_searched_for():
    assert secret_patterns("abc123") == []  # too short: "true", "0.5" and the like would raise false alarms
    assert find_secret(b'{"x": "abc123"}', {"V": "abc123"}) is None


def test_loopback_hosts():
    assert all(is_loopback(h) for h in ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST.", "api.localhost"])
    assert not any(is_loopback(h) for h in ["10.0.0.1", "128.0.0.1", "::2", "example.com", "localhost.example.com", "", None, "0.0.0.0"])


# -- plain http with credentials --------------------------------------------------------------------


@pytest.mark.parametrize("url, headers", [
    ("http://api.example.invalid/p", {"Authorization": TOKEN}),
    ("http://u:pw@api.example.invalid/p", {}),
    ("http://192.0.2.10:8000/p", {"X-Api-Key": "k"}),
    ("http://[2001:db8::1]/p", {"Authorization": TOKEN}),
])
def test_credentials_over_plain_http_to_a_remote_host_need_allow_insecure_http(url, headers):
    with pytest.raises(ConfigError, match="allow_insecure_http: true") as caught:
        HTTPTarget(url, headers=headers)
    assert "pw" not in str(caught.value) and TOKEN not in str(caught.value)
    HTTPTarget(url, headers=headers, allow_insecure_http=True)  # built only: nothing is sent
    HTTPTarget(url.replace("http://", "https://"), headers=headers)


def test_plain_http_without_credentials_or_to_loopback_is_fine():
    HTTPTarget("http://api.example.invalid/p")
    HTTPTarget("http://localhost:9/p", headers={"Authorization": TOKEN})
    HTTPTarget("http://u:pw@127.0.0.1:9/p")


def test_config_fields_reach_the_target(tmp_path):
    spec = {"type": "http", "url": "http://api.example.invalid/p", "max_response_bytes": 1234, "allow_insecure_http": True}
    target = load_target(spec, tmp_path, "api")
    assert target.max_response_bytes == 1234
    with pytest.raises(ConfigError, match="max_response_bytes"):
        HTTPTarget("http://127.0.0.1:9/p", max_response_bytes=0)


# -- deadline, size cap, stop switch ---------------------------------------------------------------


def test_trickling_answer_ends_at_the_deadline_not_when_the_server_stops():
    with FaultServer("trickle_body", interval_s=0.02, max_seconds=8.0) as server:
        with pytest.raises(LimitExceededError, match=r"no complete answer within timeout_s = 0.5 s") as caught:
            _target(server.url + "/p", timeout_s=0.5).predict(_records(5))
        sent = server.bytes_sent
    assert "raise timeout_s" in str(caught.value) and "batch 1 of 1" in str(caught.value)
    assert sent < 10_000 + 200  # far from the whole body: the client stopped reading


def test_oversized_answer_is_refused_by_content_length_before_reading():
    with FaultServer("huge_length", huge_bytes=4 * 1024 * 1024) as server:
        with pytest.raises(LimitExceededError, match=r"max_response_bytes = 1,000 \(its Content-Length is 10,000,000,000 bytes"):
            _target(server.url + "/p", max_response_bytes=1000).predict(_records(5))


def test_cap_counts_the_streamed_body():
    with FaultServer("ok") as server:  # 5 rows of [0.5, 0.5]: about 70 bytes
        assert _target(server.url + "/p", max_response_bytes=200).predict(_records(5)).shape == (5, 2)
        with pytest.raises(LimitExceededError, match="max_response_bytes = 20 "):
            _target(server.url + "/p", max_response_bytes=20).predict(_records(5))


def test_stop_switch_ends_a_waiting_read():
    stop = threading.Event()
    limits = RequestLimits(deadline=float("inf"), stop=stop)
    assert limits.left() == float("inf")
    stop.set()
    with pytest.raises(Stopped):
        limits.left()
    assert POLL_S <= 0.25  # a read waits at most this long between checks


# -- logs and cache keys ------------------------------------------------------------------------------


def test_httpx_log_lines_and_cache_keys_hold_no_query_values(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with FaultServer("ok") as server:
        _target(f"{server.url}/p?api_key=first-key-7788", cache=tmp_path / "cache").predict(_records(5))
        again = _target(f"{server.url}/p?api_key=second-key-9900", cache=tmp_path / "cache")
        again.predict(_records(5))
        assert server.answered == 1  # the key has no query values: the second key's run is answered from the cache
    assert again.query_stats()["records_from_cache"] == 5
    assert "HTTP Request: POST" in caplog.text and "api_key=***" in caplog.text
    for secret in ("first-key-7788", "second-key-9900"):
        assert secret not in caplog.text
        assert all(secret not in p.read_text() and secret not in p.name for p in (tmp_path / "cache").iterdir())


def test_error_excerpts_never_repeat_a_secret():
    with FaultServer("error_500") as server:
        with pytest.raises(TargetError) as caught:
            _target(f"http://u:pw-secret-1234@127.0.0.1:{server.port}/p").predict(_records(5))
    assert "pw-secret-1234" not in str(caught.value) and "http://***@127.0.0.1" in str(caught.value) and "HTTP 500" in str(caught.value)


def test_a_proxy_named_in_the_environment_is_used_and_bounded_by_the_deadline(monkeypatch):
    """A default httpx client honours HTTP_PROXY; the deadline transport must too (the proxy here is a loopback stand-in)."""
    from privaudit.targets.http_transport import environment_proxy

    with FaultServer("ok") as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert environment_proxy("http://models.example.invalid/p") == proxy.url
        assert environment_proxy("http://127.0.0.1:9/p") is None  # loopback never goes through a proxy
        assert _target("http://models.example.invalid/p").predict(_records(5)).shape == (5, 2)  # answered by the proxy
        assert proxy.answered == 1
    with FaultServer("silent", max_seconds=5.0) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        with pytest.raises(LimitExceededError, match="timeout_s = 0.4 s"):
            _target("http://models.example.invalid/p", timeout_s=0.4).predict(_records(5))
    monkeypatch.setenv("NO_PROXY", "models.example.invalid")
    assert environment_proxy("http://models.example.invalid/p") is None


def test_a_slow_name_lookup_is_bounded_by_the_deadline(monkeypatch):
    """Resolving the host counts against timeout_s too (no real lookup: getaddrinfo is a stand-in that hangs)."""
    import socket

    release = threading.Event()

    def hanging_getaddrinfo(host, *args, **kwargs):
        release.wait(10)
        raise socket.gaierror("stand-in resolver gave up")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_getaddrinfo)
    try:
        with pytest.raises(LimitExceededError, match="timeout_s = 0.3 s"):
            _target("https://slow-dns.example.invalid/p", timeout_s=0.3).predict(_records(5))
    finally:
        release.set()


def test_a_failed_name_lookup_is_a_connection_error(monkeypatch):
    import socket

    def failing_getaddrinfo(host, *args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", failing_getaddrinfo)
    with pytest.raises(TargetError, match=r"connection failed \(ConnectError: cannot resolve nowhere.example.invalid"):
        _target("https://nowhere.example.invalid/p").predict(_records(5))
