"""Keep secrets out of everything privaudit writes or prints.

Three helpers, used wherever a URL, a config or a server's answer could carry a credential:

* :func:`redact_url` — a URL with its user-info replaced by ``***`` and every query value by ``***``
  (the fragment is dropped); used in messages, logs, target descriptions and cache keys.
* :func:`redact_text` / :func:`redact_config` — the same for every URL inside free text, and for a
  nested config (dicts, lists) before it is dumped into ``report.json`` / ``report.html``; a value
  under a key that names a secret (``password``, ``secret``, ``token``, ``api_key``, ``access_key``)
  is replaced by ``***`` too. Environment-variable *names* (``headers_from_env``) are kept.
* :func:`secret_patterns` / :func:`find_secret` — the encodings in which a server may echo a
  configured secret back (raw, lower-/upper-case, URL-encoded, base64 at any alignment), and a
  search of an answer for any of them, so that the answer is neither cached nor shown.

Examples
--------
>>> redact_url("https://user:pw@api.example.com:8443/v1/predict?key=abc&v=2#frag")
'https://***@api.example.com:8443/v1/predict?key=***&v=***'
>>> redact_config({"url": "http://h/p?api_key=k", "headers_from_env": {"Authorization": "TOKEN_VAR"}, "password": "x"})
{'url': 'http://h/p?api_key=***', 'headers_from_env': {'Authorization': 'TOKEN_VAR'}, 'password': '***'}
>>> find_secret(b'{"label": "czNjcjN0LXRva2Vu"}', {"API_TOKEN": "s3cr3t-token"})
('API_TOKEN', 'base64')
"""

from __future__ import annotations

import base64
import re
from typing import Any, Mapping
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit, urlunsplit

__all__ = ["REDACTED", "MIN_SECRET_LENGTH", "redact_url", "redact_address", "redact_text", "redact_config", "secret_patterns", "find_secret"]

#: What a secret is replaced by.
REDACTED = "***"
#: Secrets shorter than this (characters) are not searched for in answers: too many false alarms.
MIN_SECRET_LENGTH = 8

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://(?:\[[0-9A-Fa-f:.]+\]|[^\s\"'<>`()\[\]{}])+")
_SECRET_KEY = re.compile(r"(^|[_\-])(password|passwd|secret|token|api[_\-]?key|access[_\-]?key)$", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with user-info → ``***@``, each query value → ``***`` (keys kept) and no fragment.

    Never raises: text that does not parse as a URL has its ``user:pass@`` and
    everything after ``?`` or ``#`` masked by pattern instead.

    >>> redact_url("http://127.0.0.1:8000/invocations")
    'http://127.0.0.1:8000/invocations'
    >>> redact_url("http://tok@[::1]:99/x?token")
    'http://***@[::1]:99/x?token=***'
    """
    if not isinstance(url, str):
        return url
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname or ""
    except ValueError:  # a port that is not a number, a bad IPv6 literal: mask by pattern
        masked = re.sub(r"(://)[^/@?#]*@", r"\1***@", url)
        return re.sub(r"[?#].*$", f"?{REDACTED}", masked) if re.search(r"[?#]", masked) else masked
    if ":" in host:
        host = f"[{host}]"
    userinfo = f"{REDACTED}@" if "@" in parts.netloc else ""
    netloc = userinfo + host + (f":{port}" if port is not None else "")
    query = ""
    if parts.query:
        keys = [key for key, _ in parse_qsl(parts.query, keep_blank_values=True)] or [REDACTED]
        query = "&".join(f"{quote(key, safe='')}={REDACTED}" if key != REDACTED else REDACTED for key in keys)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_address(address: str) -> str:
    """A cluster address (``host:port``, ``ray://user:token@host:port``) with any ``user:secret@`` part masked, for messages and logs.

    Examples
    --------
    >>> redact_address("ray://alice:tok@10.0.0.1:10001")
    'ray://***@10.0.0.1:10001'
    """
    scheme, sep, rest = address.strip().rpartition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{path}"


def redact_text(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url` (brackets and trailing punctuation end a URL).

    >>> redact_text("target 'api' (POST http://h/p?key=abc): no answer; see http://u:p@h/q.")
    "target 'api' (POST http://h/p?key=***): no answer; see http://***@h/q."
    """
    if not isinstance(text, str) or "://" not in text:
        return text
    def one(match: re.Match) -> str:
        url = match.group(0)
        tail = url[len(url.rstrip(".,;:!?")):]  # sentence punctuation after a URL is not part of it
        return redact_url(url[: len(url) - len(tail)]) + tail

    return _URL.sub(one, text)


def redact_config(value: Any) -> Any:
    """A copy of a nested config (dicts, lists, scalars) with URLs redacted and secret-named keys masked.

    Keys are kept; a string under a key such as ``password``, ``api_key`` or ``token`` becomes ``***``;
    every other string has the URLs in it redacted (:func:`redact_text`).
    """
    if isinstance(value, Mapping):
        return {key: (REDACTED if isinstance(key, str) and _SECRET_KEY.search(key) and isinstance(item, str) and item else redact_config(item))
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_config(item) for item in value]
    return redact_text(value) if isinstance(value, str) else value


def _base64_cores(secret: bytes) -> list[bytes]:
    """Base64 text of ``secret`` that appears whatever bytes surround it (three alignments, both alphabets)."""
    cores = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret)
        start = 4 if shift else 0
        stop = len(encoded) - (4 if (shift + len(secret)) % 3 else 0)
        core = encoded[start:stop]
        if len(core) >= MIN_SECRET_LENGTH:
            cores.append(core)
            cores.append(core.translate(bytes.maketrans(b"+/", b"-_")))
    return cores


def secret_patterns(secret: str) -> list[tuple[bytes, str, bool]]:
    """``(pattern, encoding, case_insensitive)`` for each way ``secret`` may come back in an answer.

    Covers the secret raw (any case), URL-encoded (``quote``/``quote_plus``, any case) and base64
    (standard and URL-safe alphabet, at any of the three byte alignments). A header value such as
    ``Bearer TOKEN`` is searched whole and also word by word (each word of at least
    :data:`MIN_SECRET_LENGTH` characters). Empty for secrets shorter than :data:`MIN_SECRET_LENGTH`.
    """
    words = [secret] + [word for word in secret.split() if word != secret]
    patterns: list[tuple[bytes, str, bool]] = []
    for word in words:
        if len(word) < MIN_SECRET_LENGTH:
            continue
        raw = word.encode("utf-8")
        patterns.append((raw.lower(), "raw or case-changed", True))
        for encoded in {quote(word, safe=""), quote_plus(word)}:
            if encoded != word:
                patterns.append((encoded.encode().lower(), "URL-encoded", True))
        patterns.extend((core, "base64", False) for core in _base64_cores(raw))
    return patterns


def find_secret(content: bytes, secrets: Mapping[str, str]) -> tuple[str, str] | None:
    """The first ``(name, encoding)`` of ``secrets`` (name → value) found in ``content``, or ``None``.

    ``name`` is what the message may show (an environment variable's name, ``url password``), never the value.
    """
    if not secrets:
        return None
    lowered = None
    for name, value in secrets.items():
        for pattern, encoding, case_insensitive in secret_patterns(value):
            if case_insensitive:
                lowered = content.lower() if lowered is None else lowered
                if pattern in lowered:
                    return name, encoding
            elif pattern in content:
                return name, encoding
    return None
