"""HTTP targets: audit a deployed prediction API, black-box (extra ``privaudit[http]``; httpx is imported lazily).

In a config::

    targets:
      - name: api
        type: http
        url: https://models.example.com/v1/predict
        protocol: json                  # json | mlflow | kserve_v2 (see privaudit.targets.http_protocols)
        request: {instances: "{records}"}            # json only: the body, with a placeholder
        response: "$.predictions[*].probabilities"   # where the outputs are in the answer
        outputs: probabilities          # probabilities | logits | labels
        batch_size: 256                 # records per request
        concurrency: 4                  # requests in flight at once
        timeout_s: 30                   # per request, in all: connect, send and read the whole answer
        max_response_bytes: 67108864    # largest answer read (64 MiB); a larger one stops the audit
        allow_insecure_http: false      # credentials over plain http:// to a non-loopback host need true
        retries: 3                      # after connection errors, timeouts, 408, 429 and 5xx
        backoff_s: 0.5                  # first wait; doubles each retry, times a seeded jitter in [0.5, 1.5)
        max_queries: 100000             # query budget: records sent per run (retries count, cached answers do not)
        headers_from_env: {Authorization: PRIVAUDIT_API_TOKEN}   # header ← environment variable
        cache: http-cache               # folder of answered batches (relative to the config file)

The target keeps the synchronous ``predict(records)`` of every target; inside,
batches go out on a thread pool over one ``httpx.Client`` (at most
``concurrency`` at once). A 429 (or 503) with ``Retry-After`` waits as long as
the server asks (up to :data:`MAX_RETRY_AFTER_S`), anything else retryable
waits ``backoff_s · 2^attempt · jitter``. Other 4xx answers, malformed JSON
and answers of the wrong shape stop the query at once: the error names the
endpoint (without user, password or query string) and the batch, and says
how much was answered. Answered batches are kept in memory and, with
``cache``, on disk (:mod:`privaudit.targets.http_cache`), so a rerun re-sends
only what is missing. When ``max_queries`` would be exceeded no further batch
is sent and the query stops the same way.

Limits (:mod:`privaudit.targets.http_transport`): ``timeout_s`` is one
wall-clock deadline per request — connecting, sending and reading the whole
answer, however slowly the server trickles it; answers larger than
``max_response_bytes`` are refused before or while they stream (never read
whole into memory). Both stop the query with a
:class:`~privaudit.exceptions.LimitExceededError` naming the field to raise. A
batch takes at most ``(retries + 1) · timeout_s`` plus backoff waits. Ctrl-C
ends requests in flight within :data:`~privaudit.targets.http_transport.POLL_S`
seconds; answers already received stay in the cache (each file complete).

Secrets: header values are read from the environment when the target is
built and sent only as headers; with a password in the URL, they are sent
over plain ``http://`` only to a loopback host unless ``allow_insecure_http:
true``. URLs are shown and used in cache keys only through
:func:`~privaudit.redaction.redact_url` (no user-info, no query values). An
answer that contains a secret (header value, URL password or query value; raw,
any case, URL-encoded or base64) is neither cached nor shown: the query stops
with a LimitExceededError naming the variable, never the value.

Query counts (:meth:`HTTPTarget.query_stats`, per record
:meth:`HTTPTarget.record_query_counts`) accumulate over the target's life;
audits put them in ``report.json`` under ``run.api_calls`` (beside each target's
``queries``, the records the audit asked about).
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import partial
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import numpy as np

from privaudit.exceptions import CapabilityError, ConfigError, DataError, LimitExceededError, TargetError, require
from privaudit.redaction import find_secret, redact_url
from privaudit.targets.base import check_outputs, load_transform
from privaudit.targets.http_batches import Batch, BatchFailed, failure_message, outputs_from_answer
from privaudit.targets.http_cache import ResponseCache, cache_key
from privaudit.targets.http_config import HTTPTargetConfig
from privaudit.targets.http_protocols import HTTP_PROTOCOLS, encode_body, format_path, parse_response_path, request_rows
from privaudit.targets.http_secrets import configured_secrets, headers_from_env, refuse_insecure_http, scrub
from privaudit.targets.types import register_target_type
from privaudit.targets.http_transport import (
    DEFAULT_MAX_RESPONSE_BYTES, DeadlineExceeded, ResponseTooLarge, Stopped, make_client, post, retry_after_seconds,
)

__all__ = ["HTTPTarget", "HTTPTargetConfig", "load_http_target", "headers_from_env", "retry_after_seconds", "MAX_RETRY_AFTER_S"]

#: A ``Retry-After`` longer than this (seconds) stops the query instead of waiting.
MAX_RETRY_AFTER_S = 600.0
#: Longest exponential-backoff wait (seconds).
MAX_BACKOFF_S = 60.0


class HTTPTarget:
    """A model behind an HTTP prediction API, queried in batches (see the module docstring for behaviour).

    Parameters
    ----------
    url : str
        Endpoint (``json``), server or ``…/invocations`` URL (``mlflow``),
        server or ``…/v2/models/NAME/infer`` URL (``kserve_v2``).
    name : str
    protocol : {"json", "mlflow", "kserve_v2"}
    output_kind : {"probabilities", "logits", "labels"}
        What the API answers; columns in the data's class order, labels matched to the classes as text.
    request : dict, optional
        ``json`` only: the body template (placeholders ``"{records}"``, ``"{rows}"``, ``"{columns}"``).
    response : str, optional
        Path to the outputs in the answer (syntax in :mod:`privaudit.targets.http_protocols`);
        default ``$.predictions`` (json, mlflow) or ``$.outputs[0]`` (kserve_v2).
    model_name : str, optional
        ``kserve_v2``: the model in ``/v2/models/{model_name}/infer``.
    input_tensor : str, optional
        ``kserve_v2``: send one FP32 tensor of this name instead of one tensor per column.
    transform : object with ``transform(DataFrame)``, optional
        Fitted preprocessing applied before sending (the API then receives numeric rows).
    batch_size, concurrency : int
        Records per request; requests in flight at once.
    timeout_s : float
        Overall deadline of one request in seconds: connect, send and read the whole answer.
    max_response_bytes : int
        Largest answer (decoded body bytes) read; default 64 MiB.
    allow_insecure_http : bool
        Allow credentials (``headers``, a URL password) over plain ``http://`` to a non-loopback host.
    retries : int
        Further attempts after a retryable failure.
    backoff_s : float
        First backoff wait in seconds.
    max_queries : int, optional
        Records this target may send (each attempt counts; cached answers do not).
    headers : dict, optional
        Extra request headers, e.g. from :func:`headers_from_env`; never logged or written.
    header_sources : dict, optional
        Header name → the environment variable it came from, for messages that must name a secret without showing it.
    cache : str or Path, optional
        Folder for answered batches (:class:`~privaudit.targets.http_cache.ResponseCache`).
    seed : int
        Seeds the backoff jitter.
    """

    def __init__(
        self, url: str, *, name: str = "http", protocol: str = "json", output_kind: str = "probabilities",
        request: dict | None = None, response: str | None = None, model_name: str | None = None,
        input_tensor: str | None = None, transform=None, batch_size: int = 256, concurrency: int = 4,
        timeout_s: float = 30.0, retries: int = 3, backoff_s: float = 0.5, max_queries: int | None = None,
        headers: dict[str, str] | None = None, cache: str | Path | None = None, seed: int = 0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES, allow_insecure_http: bool = False, header_sources: dict[str, str] | None = None,
    ) -> None:
        require("httpx", "http")
        if output_kind not in ("probabilities", "logits", "labels"):
            raise CapabilityError(f"target '{name}': an HTTP target gives 'probabilities', 'logits' or 'labels', not '{output_kind}'")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"target '{name}': url must be an http:// or https:// address, got {redact_url(url) if isinstance(url, str) else url!r}")
        for label, value, low in (("batch_size", batch_size, 1), ("concurrency", concurrency, 1), ("retries", retries, 0),
                                  ("max_response_bytes", max_response_bytes, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"target '{name}': {label} must be a whole number ≥ {low}, got {value!r}")
        if not (timeout_s > 0 and backoff_s >= 0):
            raise ConfigError(f"target '{name}': timeout_s must be > 0 and backoff_s ≥ 0")
        if max_queries is not None and (isinstance(max_queries, bool) or not isinstance(max_queries, int) or max_queries < 1):
            raise ConfigError(f"target '{name}': max_queries must be a whole number ≥ 1, got {max_queries!r}")
        try:
            self.protocol = HTTP_PROTOCOLS.get(protocol)(request=request, model_name=model_name, input_tensor=input_tensor)
            self.endpoint = self.protocol.endpoint(url)
            self._steps = parse_response_path(response if response is not None else self.protocol.default_response)
        except ConfigError as exc:
            raise ConfigError(f"target '{name}': {exc}") from None
        self.name = name
        self.output_kind = output_kind
        self.protocol_name = protocol
        self.model_name = model_name
        self.response_path = format_path(self._steps)
        self.transform = transform
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.timeout_s = float(timeout_s)
        self.retries = retries
        self.backoff_s = float(backoff_s)
        self.max_queries = max_queries
        self.cache = None if cache is None else ResponseCache(cache)
        self.seed = seed
        self.source = f"POST {redact_url(self.endpoint)}"
        self.max_response_bytes = max_response_bytes
        self._headers = {str(k): str(v) for k, v in (headers or {}).items()}
        self._secrets = configured_secrets(self.endpoint, self._headers, header_sources)
        refuse_insecure_http(name, self.endpoint, self._headers, allow_insecure_http)
        self._memory: dict[str, object] = {}
        self._lock = threading.Lock()
        self._requests = self._retries = self._records_sent = self._records_answered = self._records_from_cache = 0
        self._per_record: Counter = Counter()

    def __repr__(self) -> str:  # header names only, never values
        return f"HTTPTarget(name={self.name!r}, {self.source}, protocol={self.protocol_name!r}, outputs={self.output_kind!r}, headers={sorted(self._headers)})"

    # -- counts -----------------------------------------------------------------------------
    def query_stats(self) -> dict:
        """Counts so far: ``requests`` (attempts), ``retries``, ``records_sent`` (the budget's unit), ``records_answered``,
        ``records_from_cache``, ``distinct_records_sent``, ``max_sends_per_record``, ``max_queries``, ``endpoint``, ``cache``."""
        with self._lock:
            return {
                "endpoint": redact_url(self.endpoint), "protocol": self.protocol_name,
                "requests": self._requests, "retries": self._retries, "records_sent": self._records_sent,
                "records_answered": self._records_answered, "records_from_cache": self._records_from_cache,
                "distinct_records_sent": len(self._per_record), "max_sends_per_record": max(self._per_record.values(), default=0),
                "max_queries": self.max_queries, "cache": None if self.cache is None else str(self.cache.root),
            }

    def record_query_counts(self) -> dict[str, int]:
        """Record id → times it was sent to the API (every attempt; cached answers are not sends)."""
        with self._lock:
            return dict(self._per_record)

    # -- querying ---------------------------------------------------------------------------
    def _batch(self, index: int, start: int, columns: list[str], rows: list[list], ids: list[str]) -> Batch:
        """The request body of records ``start…`` and its cache key (built in a worker thread, beside requests in flight)."""
        stop = min(start + self.batch_size, len(rows))
        try:
            body = encode_body(self.protocol.body(columns, rows[start:stop]))
        except (TypeError, ValueError) as exc:
            raise DataError(f"target '{self.name}': records {start + 1}–{stop} cannot be sent as JSON ({exc}); features must be numbers, text or booleans, without infinity") from None
        key = cache_key(url=redact_url(self.endpoint), protocol=self.protocol_name, model_name=self.model_name, output_kind=self.output_kind,
                        response_path=self.response_path, body_digest=hashlib.sha256(body).hexdigest())
        return Batch(index, start, stop, body, key, ids[start:stop])

    def _reserve(self, batch: Batch, attempt: int) -> None:
        with self._lock:
            if self.max_queries is not None and self._records_sent + batch.size > self.max_queries:
                raise BatchFailed(
                    f"query budget spent: max_queries = {self.max_queries:,} records per run, {self._records_sent:,} sent so far, "
                    f"this batch needs {batch.size:,} more"
                )
            self._requests += 1
            self._retries += int(attempt > 0)
            self._records_sent += batch.size
            self._per_record.update(batch.ids)

    def _backoff(self, batch: Batch, attempt: int) -> float:
        jitter = random.Random(f"{self.seed}:{batch.index}:{attempt}").uniform(0.5, 1.5)
        return min(self.backoff_s * 2.0**attempt, MAX_BACKOFF_S) * jitter

    def _answer_batch(self, client, httpx, make_batch, classes: tuple, stop: threading.Event, abort: threading.Event, done: list):
        """Build one batch, answer it from the cache or send it with retries; returns its outputs (``None`` if stopped)."""
        if stop.is_set():
            return None
        batch = make_batch()
        done.append(batch)  # the main thread names failed batches from here
        cached = self._cached(batch)
        if cached is not None:
            with self._lock:
                self._records_from_cache += batch.size
            return cached
        try:
            return self._attempts(client, httpx, batch, classes, stop, abort)
        except BatchFailed:
            stop.set()  # at once, so that no worker starts another batch
            raise

    def _attempts(self, client, httpx, batch: Batch, classes: tuple, stop: threading.Event, abort: threading.Event):
        """Send ``batch`` until answered; ``stop``: start nothing new, ``abort``: also end the request in flight (Ctrl-C)."""
        for attempt in range(self.retries + 1):
            if stop.is_set():
                return None
            self._reserve(batch, attempt)
            wait, limit = None, False
            try:
                answer = post(client, self.endpoint, batch.body, timeout_s=self.timeout_s, max_bytes=self.max_response_bytes, stop=abort)
            except Stopped:
                return None
            except ResponseTooLarge as exc:
                size = f"its Content-Length is {exc.size:,} bytes" if exc.declared else f"more than {exc.size:,} bytes arrived"
                raise BatchFailed(f"the answer is larger than max_response_bytes = {self.max_response_bytes:,} ({size}; reading stopped there); "
                                   "raise max_response_bytes in the target's config or lower batch_size", limit=True) from None
            except (DeadlineExceeded, httpx.TimeoutException):
                problem, limit = f"no complete answer within timeout_s = {self.timeout_s:g} s (one deadline for connecting, sending and reading)", True
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                status = answer.status
                if 200 <= status < 300:
                    outputs = outputs_from_answer(answer.content, steps=self._steps, response_path=self.response_path, n_records=batch.size,
                                                  output_kind=self.output_kind, classes=classes, secrets=self._secrets)
                    self._keep(batch, outputs)
                    return outputs
                excerpt = answer.content[:120].decode("utf-8", "replace").strip().replace("\n", " ")
                if find_secret(answer.content, self._secrets) is not None:
                    excerpt = "its text repeats a credential and is not shown"
                problem = f"HTTP {status} {answer.reason}" + (f" ({excerpt})" if excerpt else "")
                if status not in (408, 429) and status < 500:
                    hint = "; check headers_from_env and that its variables hold valid credentials" if status in (401, 403) else ""
                    raise BatchFailed(problem + hint)
                if status in (429, 503):
                    wait = retry_after_seconds(answer.headers.get("retry-after"))
                    if wait is not None and wait > MAX_RETRY_AFTER_S:
                        raise BatchFailed(f"{problem}: the server asks to wait {wait:.0f} s (Retry-After), longer than {MAX_RETRY_AFTER_S:.0f} s; rerun later")
            if attempt == self.retries:
                raise BatchFailed(f"{problem}, after {attempt + 1} attempt{'s' if attempt else ''} (retries = {self.retries})"
                                   + ("; raise timeout_s in the target's config if the server is slow but sound" if limit else ""), limit=limit)
            if stop.wait(wait if wait is not None else self._backoff(batch, attempt)):
                return None
        return None  # pragma: no cover - the loop returns or raises

    def _keep(self, batch: Batch, outputs) -> None:
        with self._lock:
            self._records_answered += batch.size
            self._memory[batch.key] = outputs
        if self.cache is not None:
            self.cache.save(batch.key, outputs, self.output_kind)

    def _cached(self, batch: Batch):
        with self._lock:
            outputs = self._memory.get(batch.key)
        if outputs is None and self.cache is not None:
            outputs = self.cache.load(batch.key, n_records=batch.size, output_kind=self.output_kind)
            if outputs is not None:
                with self._lock:
                    self._memory[batch.key] = outputs
        return outputs

    #: ``predict(records, on_batch=f)`` calls ``f(n)`` as each batch of ``n`` records is answered (see :func:`~privaudit.targets.base.query_target`)
    reports_batches = True

    def predict(self, records, *, on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Outputs for ``records``: ``(n, C)`` probabilities or logits in ``records.classes`` order, or ``(n,)`` class indices.

        ``on_batch(n)`` is called in this thread as each batch of ``n`` records is answered (from the cache or the server).
        """
        httpx = require("httpx", "http")
        columns, rows = request_rows(records.features, transform=self.transform, needs_numeric=self.protocol.needs_numeric, name=self.name)
        ids = np.asarray(records.ids).astype(str).tolist()
        classes = tuple(records.classes)
        starts = list(range(0, len(rows), self.batch_size))
        answers: list = [None] * len(starts)
        stop, abort = threading.Event(), threading.Event()
        failures: list[tuple[str, bool]] = []
        workers = max(1, min(self.concurrency, len(starts)))
        with make_client(url=self.endpoint, workers=workers, headers=self._headers, timeout_s=self.timeout_s) as client:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"privaudit-http-{self.name}")
            try:
                futures = {}
                for index, start in enumerate(starts):
                    built: list[Batch] = []
                    make = partial(self._batch, index, start, columns, rows, ids)
                    futures[pool.submit(self._answer_batch, client, httpx, make, classes, stop, abort, built)] = (index, built)
                for future in as_completed(futures):
                    index, built = futures[future]
                    try:
                        outputs = future.result()
                    except BatchFailed as exc:
                        failures.append((f"{built[0].describe(len(starts))}: {exc}", exc.limit))
                        continue
                    answers[index] = outputs
                    if on_batch is not None and outputs is not None:
                        on_batch(built[0].size)
            except BaseException:  # Ctrl-C or a local error: start nothing, end requests in flight at their next read
                stop.set()
                abort.set()
                pool.shutdown(wait=True, cancel_futures=True)  # returns within POLL_S: every wait checks abort
                raise
            pool.shutdown(wait=True)
        if failures:
            error = LimitExceededError if failures[0][1] else TargetError
            summary = failure_message([text for text, _ in failures], answers, len(records), None if self.cache is None else self.cache.root)
            raise error(scrub(f"target '{self.name}' ({self.source}): {summary}", self._secrets))
        if self.output_kind == "labels":
            labels = [label for answer in answers for label in answer]
            inverse = {str(c): i for i, c in enumerate(records.classes)}
            unknown = sorted({label for label in labels if label not in inverse})
            if unknown:
                raise TargetError(scrub(f"target '{self.name}' ({self.source}) answered labels {unknown[:5]} that are not classes of the data {list(records.classes)}", self._secrets))
            return check_outputs(np.array([inverse[label] for label in labels], dtype=np.intp), records, self)
        outputs = np.concatenate(answers) if answers else np.empty((0, len(records.classes)))
        return check_outputs(outputs, records, self)


@register_target_type(HTTPTargetConfig)
def load_http_target(spec: dict, base_dir: Path, name: str) -> HTTPTarget:
    """Config: ``{type: http, url, protocol, request, response, outputs, model_name, input_tensor, batch_size, concurrency,
    timeout_s, max_response_bytes, allow_insecure_http, retries, backoff_s, max_queries, headers_from_env, cache, transform}``
    (see the module docstring)."""
    field = f"targets.{name}"
    defaults = {"batch_size": 256, "concurrency": 4, "timeout_s": 30.0, "retries": 3, "backoff_s": 0.5,
                "max_response_bytes": DEFAULT_MAX_RESPONSE_BYTES, "allow_insecure_http": False}
    settings = {key: spec.get(key) if spec.get(key) is not None else default for key, default in defaults.items()}
    cache = spec.get("cache")
    return HTTPTarget(
        spec["url"], name=name, protocol=spec.get("protocol") or "json", output_kind=spec.get("outputs") or "probabilities",
        request=spec.get("request"), response=spec.get("response"), model_name=spec.get("model_name"),
        input_tensor=spec.get("input_tensor"), transform=load_transform(spec, base_dir, field), max_queries=spec.get("max_queries"),
        headers=headers_from_env(spec.get("headers_from_env"), f"{field}.headers_from_env", trust_code=bool(spec.get("trust_code"))), header_sources=dict(spec.get("headers_from_env") or {}),
        cache=None if cache is None else Path(base_dir) / cache, **settings,
    )
