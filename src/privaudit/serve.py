"""A small prediction server: any privaudit target behind the three HTTP protocols (extra ``privaudit[serve]``).

It exists so that a black-box audit can be tried end to end on one machine
(``privaudit serve-example``) and so that the HTTP target is tested against a
real server. One app answers all three protocols of
:mod:`privaudit.targets.http_protocols`:

* ``json``: ``POST /predict`` with ``{"instances": [{column: value, ...}, ...]}`` (or rows in feature order),
  answering ``{"predictions": [{"probabilities": [...]}, ...]}`` (``{"label": ...}`` with labels only);
* ``mlflow``: ``POST /invocations`` with ``{"dataframe_split": {"columns", "data"}}``, answering ``{"predictions": [[...], ...]}``;
* ``kserve_v2``: ``POST /v2/models/{model_name}/infer`` with one tensor per column (or one tensor of all
  features), answering the output tensor ``probabilities`` (``FP64 [n, C]``) or ``label`` (``[n]``);
  ``GET /v2/health/ready`` and ``GET /v2/models/{model_name}`` for readiness and metadata.

Probabilities are the target's (softmax of logits for logit targets), columns
in the data's class order. :class:`Faults` makes the server misbehave on
purpose — server errors, slow answers, malformed JSON, dropped connections,
rate limiting — and :class:`ServerLog` records every inference request, so
tests can count what reached the server.

FastAPI and uvicorn are imported only when an app is built or run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from privaudit.exceptions import ConfigError, PrivauditError, require

__all__ = ["Faults", "ServerLog", "build_app", "RunningServer", "ExampleServer", "prepare_example", "EXAMPLE_CONFIG"]

#: File name of the audit config ``privaudit serve-example`` writes into the demo folder.
EXAMPLE_CONFIG = "http-audit.yaml"


@dataclass
class Faults:
    """Ways to misbehave, decided per inference request number (1, 2, ... in arrival order).

    Parameters
    ----------
    error_rate : float
        Share of requests answered ``503`` (request ``k`` fails when a
        generator seeded with ``(seed, k)`` draws below it).
    seed : int
    slow : set of int
        Requests that wait ``slow_s`` seconds before being answered.
    slow_s : float
    malformed : set of int
        Requests answered ``200`` with a body that is not valid JSON.
    drop : set of int
        Requests whose connection is closed half-way through the answer.
    rate_limit : set of int
        Requests answered ``429`` with ``Retry-After: retry_after`` (whole seconds).
    retry_after : int
    echo_credentials : bool
        A ``401`` answer repeats the ``Authorization`` header it received (a careless server).
    """

    error_rate: float = 0.0
    seed: int = 0
    slow: frozenset = frozenset()
    slow_s: float = 1.0
    malformed: frozenset = frozenset()
    drop: frozenset = frozenset()
    rate_limit: frozenset = frozenset()
    retry_after: int = 1
    echo_credentials: bool = False

    def pick(self, number: int) -> str | None:
        """The fault for request ``number``: ``"malformed"``, ``"drop"``, ``"rate_limit"``, ``"slow"``, ``"error"`` or ``None``."""
        for name in ("malformed", "drop", "rate_limit", "slow"):
            if number in getattr(self, name):
                return name
        if self.error_rate > 0 and random.Random(f"{self.seed}:{number}").random() < self.error_rate:
            return "error"
        return None


@dataclass
class ServerLog:
    """Every inference request that reached the server: ``(number, path, body sha256, status, fault, monotonic time answered)``."""

    hits: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _count: int = 0

    def next_number(self) -> int:
        with self._lock:
            self._count += 1
            return self._count

    def record(self, number: int, path: str, digest: str, status: int, fault: str | None) -> None:
        with self._lock:
            self.hits.append((number, path, digest, status, fault, time.monotonic()))

    def answered(self) -> set[str]:
        """Body digests answered properly (``200``, neither malformed nor dropped)."""
        with self._lock:
            return {digest for _, _, digest, status, fault, _ in self.hits if status == 200 and fault in (None, "slow")}

    def digests(self) -> list[str]:
        with self._lock:
            return [hit[2] for hit in self.hits]

    def clear(self) -> None:
        with self._lock:
            self.hits.clear()
            self._count = 0


class _BadRequest(ValueError):
    """A request the server cannot read (answered 400)."""


class _Dropped(Exception):
    """Raised inside the app after a partial answer: the server then closes the connection."""


class _FaultInjector:
    """ASGI wrapper: numbers and logs inference requests and applies :class:`Faults`."""

    def __init__(self, app, faults: Faults, log: ServerLog) -> None:
        self.app = app
        self.faults = faults
        self.log = log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        number, digest, path = self.log.next_number(), hashlib.sha256(body).hexdigest(), scope["path"]
        fault = self.faults.pick(number)

        async def reply(status: int, content: bytes, headers=()):
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode()), *headers]})
            await send({"type": "http.response.body", "body": content})
            self.log.record(number, path, digest, status, fault)

        if fault == "error":
            return await reply(503, b'{"error": "injected server error"}')
        if fault == "rate_limit":
            return await reply(429, b'{"error": "too many requests"}', [(b"retry-after", str(self.faults.retry_after).encode())])
        if fault == "malformed":
            return await reply(200, b'{"predictions": [[0.25, 0.75], [0.5')
        if fault == "drop":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
            await send({"type": "http.response.body", "body": b'{"predictions": [', "more_body": True})
            self.log.record(number, path, digest, 200, fault)
            raise _Dropped("connection dropped on purpose")
        if fault == "slow":
            await asyncio.sleep(self.faults.slow_s)
        status_seen = []

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        async def watch(message):
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
            await send(message)

        try:
            await self.app(scope, replay, watch)
        finally:  # also when the client gave up waiting (a slow answer) and the send failed
            self.log.record(number, path, digest, status_seen[0] if status_seen else 0, fault)


class _Model:
    """The served target: request frames in, probabilities or label values out."""

    def __init__(self, target, classes, features, labels_only: bool) -> None:
        self.target = target
        self.classes = tuple(classes)
        self.features = [str(c) for c in features]
        self.labels_only = labels_only or target.output_kind == "labels"

    def answer(self, frame: pd.DataFrame):
        from privaudit.data import RecordSet
        from privaudit.signals import stable_log_softmax

        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ValueError(f"missing feature columns {missing[:5]}")
        n = len(frame)
        records = RecordSet(np.arange(n).astype(str), frame[self.features].reset_index(drop=True), np.zeros(n, dtype=np.intp), self.classes)
        outputs = np.asarray(self.target.predict(records))
        if self.target.output_kind == "labels":
            index = outputs.astype(np.intp)
        elif self.labels_only:
            index = np.argmax(outputs, axis=1)
        elif self.target.output_kind == "logits":
            return np.exp(stable_log_softmax(outputs))
        else:
            return np.asarray(outputs, dtype=np.float64)
        return [_plain(self.classes[i]) for i in index]


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _json(document) -> bytes:
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


def _v2_frame(document: dict, features: list[str]) -> pd.DataFrame:
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ValueError("'inputs' must be a non-empty list of tensors")
    if len(inputs) == 1 and inputs[0].get("name") not in features:
        tensor = inputs[0]
        matrix = np.asarray(tensor["data"], dtype=np.float64).reshape(tensor["shape"])
        if tensor.get("datatype") == "FP32":
            matrix = matrix.astype(np.float32).astype(np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(features):
            raise ValueError(f"tensor of shape {list(matrix.shape)} does not hold {len(features)} features per record")
        return pd.DataFrame(matrix, columns=features)
    columns = {}
    for tensor in inputs:
        values = np.asarray(tensor["data"], dtype=object).reshape(-1).tolist()
        if tensor.get("datatype") == "BYTES":
            values = [None if v is None else str(v) for v in values]
        columns[str(tensor["name"])] = values
    return pd.DataFrame(columns)


def build_app(target, *, classes, features, labels_only: bool = False, model_name: str = "model", faults: Faults | None = None,
              log: ServerLog | None = None, token: str | None = None):
    """An ASGI app serving ``target`` in all three protocols (see the module docstring).

    Parameters
    ----------
    target : privaudit.targets.Target
        Queried with the request's records; ``features`` are its feature columns and ``classes`` the class values.
    labels_only : bool
        Answer the predicted class value only.
    model_name : str
        The name in ``/v2/models/{model_name}/infer``.
    faults : Faults, optional
        Misbehaviour; the returned app's ``faults`` attribute may be replaced later.
    log : ServerLog, optional
        Where inference requests are recorded (``app.log``).
    token : str, optional
        When set, every request needs the header ``Authorization: <token>`` (else ``401``).
    """
    fastapi = require("fastapi", "serve")
    from fastapi.responses import JSONResponse, Response

    model = _Model(target, classes, features, labels_only)
    api = fastapi.FastAPI(title="privaudit example model", docs_url=None, redoc_url=None, openapi_url=None)
    injector = _FaultInjector(api, faults or Faults(), log or ServerLog())

    def denied(request):
        received = request.headers.get("authorization")
        if token is None or received == token:
            return None
        detail = f"invalid credentials: {received!r}" if injector.faults.echo_credentials else "invalid or missing credentials"
        return JSONResponse({"error": detail}, status_code=401)

    async def parse(request) -> dict:
        try:
            document = json.loads(await request.body())
        except ValueError:
            raise _BadRequest("the body is not valid JSON") from None
        if not isinstance(document, dict):
            raise _BadRequest("the body must be a JSON object")
        return document

    def respond(build):
        try:
            return Response(_json(build()), media_type="application/json")
        except (_BadRequest, ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    def unknown_model(request):
        name = request.path_params["name"]
        return None if name == model_name else JSONResponse({"error": f"unknown model '{name}'"}, status_code=404)

    async def answer(request, build, precheck=None):
        """Credentials, then ``precheck`` (a response or None), then the JSON body; ``build(document)`` runs in a worker thread."""
        if (refusal := denied(request)) is not None:
            return refusal
        if precheck is not None and (refusal := precheck(request)) is not None:
            return refusal
        try:
            document = await parse(request)
        except _BadRequest as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return await asyncio.to_thread(respond, lambda: build(document))

    def json_reply(document):
        instances = document["instances"]
        frame = pd.DataFrame.from_records(instances) if instances and isinstance(instances[0], dict) else pd.DataFrame(instances, columns=model.features)
        answer = model.answer(frame)
        if isinstance(answer, list):
            return {"predictions": [{"label": label} for label in answer]}
        return {"predictions": [{"probabilities": row} for row in answer.tolist()]}

    def mlflow_reply(document):
        split = document["dataframe_split"]
        answer = model.answer(pd.DataFrame(split["data"], columns=split["columns"]))
        return {"predictions": answer if isinstance(answer, list) else answer.tolist()}

    def v2_reply(document):
        answer = model.answer(_v2_frame(document, model.features))
        if isinstance(answer, list):
            datatype = "INT64" if all(isinstance(v, int) and not isinstance(v, bool) for v in answer) else "BYTES"
            output = {"name": "label", "shape": [len(answer)], "datatype": datatype, "data": answer if datatype == "INT64" else [str(v) for v in answer]}
        else:
            output = {"name": "probabilities", "shape": list(answer.shape), "datatype": "FP64", "data": answer.reshape(-1).tolist()}
        reply = {"model_name": model_name, "outputs": [output]}
        if "id" in document:
            reply["id"] = document["id"]
        return reply

    async def predict_json(request):
        return await answer(request, json_reply)

    async def predict_mlflow(request):
        return await answer(request, mlflow_reply)

    async def predict_v2(request):
        return await answer(request, v2_reply, precheck=unknown_model)

    async def ready(request):
        return JSONResponse({"ready": True})

    async def metadata(request):
        if (refusal := unknown_model(request)) is not None:
            return refusal
        return JSONResponse({"name": model_name, "platform": "privaudit", "inputs": [{"name": c, "datatype": "BYTES", "shape": [-1, 1]} for c in model.features],
                "outputs": [{"name": "label" if model.labels_only else "probabilities", "datatype": "BYTES" if model.labels_only else "FP64",
                             "shape": [-1] if model.labels_only else [-1, len(model.classes)]}]})

    # plain endpoints (request in, response out): no signature inspection, so the lazy imports above are enough
    api.add_route("/predict", predict_json, methods=["POST"])
    api.add_route("/invocations", predict_mlflow, methods=["POST"])
    api.add_route("/v2/models/{name}/infer", predict_v2, methods=["POST"])
    api.add_route("/v2/health/ready", ready, methods=["GET"])
    api.add_route("/v2/models/{name}", metadata, methods=["GET"])
    return injector


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port") from None
    sock.listen(128)
    return sock


def _uvicorn_server(app, log_level: str):
    uvicorn = require("uvicorn", "serve")
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", access_log=log_level in ("info", "debug"), timeout_graceful_shutdown=2)
    return uvicorn.Server(config)


class RunningServer:
    """Serve an ASGI ``app`` on ``host`` (a free port by default) from a background thread; a context manager.

    ``url`` is ``http://host:port``; :meth:`stop` (or leaving the ``with`` block) shuts it down and joins the thread.
    """

    def __init__(self, app, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "critical") -> None:
        self.app = app
        self._socket = _bind(host, port)
        self.host, self.port = host, self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._server = _uvicorn_server(app, log_level)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, name="privaudit-serve", daemon=True)

    def start(self, timeout_s: float = 20.0) -> "RunningServer":
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server at {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> "RunningServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# -- privaudit serve-example ---------------------------------------------------------------


@dataclass
class ExampleServer:
    """What :func:`prepare_example` set up: the app, the bound socket, the URL and the audit config it wrote."""

    app: object
    url: str
    target: str
    config_path: Path
    config_text: str
    protocol: str
    _socket: socket.socket

    def endpoints(self) -> dict[str, str]:
        """Protocol → the endpoint a client posts to."""
        return {"json": f"{self.url}/predict", "mlflow": f"{self.url}/invocations", "kserve_v2": f"{self.url}/v2/models/{self.target}/infer"}

    def run(self, log_level: str = "info") -> None:
        """Serve in this thread until Ctrl-C (or SIGTERM)."""
        server = _uvicorn_server(self.app, log_level)
        try:
            server.run(sockets=[self._socket])
        except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it handled once it has shut down
            pass
        finally:
            self._socket.close()


def _example_target(config, name: str | None):
    names = [t.name for t in config.targets]
    if name is None:
        name = "overfit_mlp" if "overfit_mlp" in names else names[0]
    for spec in config.targets:
        if spec.name == name:
            if spec.type == "http":
                raise ConfigError(f"target '{name}' is itself an HTTP target; serve-example serves a model from a file")
            return spec
    raise ConfigError(f"no target '{name}' in the demo config; its targets are: {', '.join(names)}")


def prepare_example(demo_dir: str | Path = "privaudit-demo", *, protocol: str = "json", port: int = 8765, labels_only: bool = False,
                    host: str = "127.0.0.1", target: str | None = None, force: bool = False) -> ExampleServer:
    """Load a demo folder's model, bind ``host:port`` and write ``http-audit.yaml`` beside the demo's config.

    The written config audits the served model black-box with ``protocol``
    (the server answers all three), reusing the demo's data, membership,
    metrics and groups; answers are cached under ``http-cache/`` in the folder.
    Raises :class:`~privaudit.exceptions.ConfigError` when ``demo_dir`` holds no
    ``config.yaml`` written by ``privaudit demo``. ``http-audit.yaml`` is written
    atomically and replaces only a file privaudit wrote (else
    :class:`~privaudit.exceptions.OutputError`, unless ``force``).
    """
    import yaml

    from privaudit.config import load_config
    from privaudit.data import load_audit_data
    from privaudit.targets import load_target
    from privaudit.targets.http_protocols import HTTP_PROTOCOLS

    HTTP_PROTOCOLS.get(protocol)
    demo_dir = Path(demo_dir)
    if not (demo_dir / "config.yaml").is_file():
        raise ConfigError(f"{demo_dir}: no demo here (config.yaml not found); create it first with: privaudit demo --out {demo_dir}")
    config, base_dir = load_config(demo_dir / "config.yaml")
    spec = _example_target(config, target)
    d, m = config.data, config.data.membership
    resolve = lambda p: None if p is None else base_dir / p  # noqa: E731
    data = load_audit_data(base_dir / d.path, label=d.label, id_column=d.id_column, features=d.features, membership_column=m.column,
                           members_file=resolve(m.members), nonmembers_file=resolve(m.nonmembers), population_file=resolve(m.population),
                           classes=d.classes)
    model = load_target(spec.model_dump(), base_dir, spec.name)
    require("fastapi", "serve")
    require("uvicorn", "serve")
    app = build_app(model, classes=data.records.classes, features=list(data.records.features.columns), labels_only=labels_only, model_name=spec.name)
    sock = _bind(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    http_target = {"name": f"{spec.name}_api", "type": "http", "url": url, "protocol": protocol,
                   "outputs": "labels" if labels_only else "probabilities"}
    if protocol == "json":
        http_target.update(url=f"{url}/predict", request={"instances": "{records}"},
                           response="$.predictions[*].label" if labels_only else "$.predictions[*].probabilities")
    if protocol == "kserve_v2":
        http_target["model_name"] = spec.name
    http_target.update({"batch_size": 512, "concurrency": 4, "timeout_s": 30, "retries": 3, "cache": f"http-cache/{spec.name}"})
    audit_config = {"seed": config.seed, "data": config.data.model_dump(mode="json", exclude_none=True), "targets": [http_target],
                    "metrics": config.metrics.model_dump(mode="json")}
    if config.groups:
        audit_config["groups"] = [g.model_dump(mode="json", exclude_none=True) for g in config.groups]
    audit_config["output"] = "http-report"
    text = (f"# Written by `privaudit serve-example`: a black-box audit of {spec.name} through its HTTP API ({protocol}).\n"
            f"# Run it while the server is up: privaudit audit {demo_dir / EXAMPLE_CONFIG}\n" + yaml.safe_dump(audit_config, sort_keys=False))
    from privaudit.output_folder import check_output_file, unwritable_error, write_file_atomic

    path = demo_dir / EXAMPLE_CONFIG
    try:  # one file into the user's demo folder: replaced only when privaudit wrote it (or --force), atomically
        write_file_atomic(check_output_file(path, marker="# Written by `privaudit serve-example`", force=force, what="--dir"), text.encode("utf-8"))
    except BaseException as exc:
        sock.close()
        if isinstance(exc, OSError) and not isinstance(exc, PrivauditError):
            raise unwritable_error(path, exc, "--dir") from None
        raise
    return ExampleServer(app=app, url=url, target=spec.name, config_path=path, config_text=text, protocol=protocol, _socket=sock)
