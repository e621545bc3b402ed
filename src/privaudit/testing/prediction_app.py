"""A prediction app: any privaudit target behind the three HTTP protocols of :mod:`privaudit.targets.http_protocols`.

* ``json``: ``POST /predict`` with ``{"instances": [{column: value, ...}, ...]}`` (or rows in feature order),
  answering ``{"predictions": [{"probabilities": [...]}, ...]}`` (``{"label": ...}`` with labels only);
* ``mlflow``: ``POST /invocations`` with ``{"dataframe_split": {"columns", "data"}}``, answering ``{"predictions": [[...], ...]}``;
* ``kserve_v2``: ``POST /v2/models/{model_name}/infer`` with one tensor per column (or one tensor of all
  features), answering the output tensor ``probabilities`` (``FP64 [n, C]``) or ``label`` (``[n]``);
  ``GET /v2/health/ready`` and ``GET /v2/models/{model_name}`` for readiness and metadata.

Probabilities are the target's (softmax of logits for logit targets), columns
in the data's class order. The app is wrapped in a
:class:`~privaudit.testing.faults.FaultInjector`. FastAPI is imported only when
an app is built (extra ``privaudit[serve]``).
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pandas as pd

from privaudit.exceptions import require
from privaudit.testing.faults import FaultInjector, Faults, ServerLog

__all__ = ["build_app"]


class _BadRequest(ValueError):
    """A request the server cannot read (answered 400)."""


class _Model:
    """The served target: request frames in, probabilities or label values out."""

    def __init__(self, target, classes, features, labels_only: bool) -> None:
        self.target = target
        self.classes = tuple(classes)
        self.features = [str(c) for c in features]
        self.labels_only = labels_only or target.output_kind == "labels"

    def answer(self, frame: pd.DataFrame):
        from privaudit.data import RecordSet
        from privaudit.log_probabilities import stable_log_softmax

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
    injector = FaultInjector(api, faults or Faults(), log or ServerLog())

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
