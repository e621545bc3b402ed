"""Credentials of an HTTP target: read from the environment, never sent in clear to a remote host, never shown.

* :func:`headers_from_env` — header values from named environment variables (a missing one is a ConfigError
  naming the variable).
* :func:`configured_secrets` — every secret a target holds (header values, the URL's password, the URL's query
  values), keyed by a name a message may show (the variable's name, never the value).
* :func:`refuse_insecure_http` — credentials over plain ``http://`` go only to a loopback host
  (``localhost``, 127.0.0.0/8, ``::1``) unless the target's config says ``allow_insecure_http: true``;
  checked when the target is built, before any connection.
* :func:`scrub` — text (an error message) with URLs redacted and every secret, in any encoding the
  answer check looks for (:func:`privaudit.redaction.secret_patterns`), replaced by ``***``.

>>> secrets = configured_secrets("http://u:pw-123456@127.0.0.1/p?api_key=k-98765432", {"Authorization": "Bearer t0k3n-abcdef"},
...                              {"Authorization": "API_TOKEN"})
>>> sorted(secrets)
['the password in the url', 'the value of API_TOKEN (the Authorization header)', 'the value of query parameter api_key in the url']
>>> scrub("server said: bearer T0K3N-ABCDEF at http://u:pw-123456@127.0.0.1/p?api_key=k-98765432", secrets)
'server said: *** at http://***@127.0.0.1/p?api_key=***'
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qsl, unquote, urlsplit

from privaudit.exceptions import ConfigError, UntrustedCodeError
from privaudit.redaction import REDACTED, redact_text, redact_url, secret_patterns
from privaudit.targets.http_transport import is_loopback

__all__ = ["ENV_PREFIX", "headers_from_env", "configured_secrets", "refuse_insecure_http", "scrub"]

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

#: environment variables a config may send as headers without ``trust_code``: a config from someone else
#: must not be able to read ``GITHUB_TOKEN`` or ``AWS_SECRET_ACCESS_KEY`` and send it to a URL it names
ENV_PREFIX = "PRIVAUDIT_"


def headers_from_env(mapping: dict | None, field: str = "headers_from_env", *, trust_code: bool = True) -> dict[str, str]:
    """Header name → value of the named environment variable; a missing variable is a :class:`ConfigError` naming it (never a value).

    Without ``trust_code`` (a config's ``trust_code: true`` or ``--trust-code``) only variables whose names
    start with :data:`ENV_PREFIX` may be read: anything else is refused (:class:`UntrustedCodeError`) before
    any variable is read, so an untrusted config cannot send the user's other credentials to its URL.
    """
    headers = {}
    for header, variable in (mapping or {}).items():
        if not isinstance(header, str) or not _HEADER_NAME.match(header):
            raise ConfigError(f"{field}: '{header}' is not a valid HTTP header name")
        if not isinstance(variable, str) or not variable:
            raise ConfigError(f"{field}.{header}: give the name of an environment variable that holds the value")
        if not trust_code and not variable.startswith(ENV_PREFIX):
            raise UntrustedCodeError(
                f"{field}.{header}: the config asks to send environment variable {variable} to the target's url; "
                f"a config reads only variables named {ENV_PREFIX}* unless trusted: export the credential as e.g. "
                f"{ENV_PREFIX}API_TOKEN and name that, or, after checking the url, add 'trust_code: true' at the top of the config or pass --trust-code"
            )
        value = os.environ.get(variable)
        if not value:
            raise ConfigError(f"{field}.{header}: environment variable {variable} is not set; export it before the audit (its value is sent as the {header} header and written nowhere)")
        headers[header] = value
    return headers


def configured_secrets(url: str, headers: dict[str, str], sources: dict[str, str] | None = None) -> dict[str, str]:
    """Name a message may show → secret value: every header value, the URL's password and its query values.

    ``sources`` maps a header to the environment variable it came from (named in messages instead of the value).
    """
    sources = sources or {}
    secrets = {(f"the value of {sources[h]} (the {h} header)" if h in sources else f"the {h} header's value"): v for h, v in headers.items()}
    parts = urlsplit(url)
    if parts.password:
        secrets["the password in the url"] = unquote(parts.password)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if value:
            secrets[f"the value of query parameter {key} in the url"] = value
    return secrets


def refuse_insecure_http(name: str, url: str, headers: dict[str, str], allowed: bool) -> None:
    """Raise :class:`ConfigError` if credentials would go over plain http to a host that is not this machine."""
    parts = urlsplit(url)
    if parts.scheme != "http" or allowed or is_loopback(parts.hostname):
        return
    sent = [f"the {', '.join(sorted(headers))} header{'s' if len(headers) > 1 else ''}"] if headers else []
    sent += ["the user name and password in the url"] if parts.username or parts.password else []
    if sent:
        raise ConfigError(
            f"target '{name}': url {redact_url(url)} is plain http:// to a remote host, so {' and '.join(sent)} would travel "
            f"unencrypted; use https://, or set allow_insecure_http: true in the target's config if the network is trusted"
        )


def scrub(text: str, secrets: dict[str, str]) -> str:
    """``text`` with URLs redacted and each secret (raw in any case, URL-encoded, base64) replaced by ``***``."""
    text = redact_text(text)
    for value in secrets.values():
        if len(value) >= 4:
            text = re.sub(re.escape(value), REDACTED, text, flags=re.IGNORECASE)
        for pattern, _, insensitive in secret_patterns(value):
            text = re.sub(re.escape(pattern.decode("utf-8", "replace")), REDACTED, text, flags=re.IGNORECASE if insensitive else 0)
    return text
