"""Wire formats of prediction APIs: request bodies, response paths and decoding (pure; no network, no httpx).

Three protocols are registered in :data:`HTTP_PROTOCOLS` (see
:mod:`privaudit.targets.http` for the target that sends them):

``json``
    A generic JSON API. The request body is the ``request`` template with
    placeholders replaced (a string value that is exactly one of them):
    ``"{records}"`` → ``[{column: value, ...}, ...]``, ``"{rows}"`` →
    ``[[value, ...], ...]``, ``"{columns}"`` → ``[column, ...]``. Default
    template ``{"instances": "{records}"}``; default response path
    ``$.predictions``.
``mlflow``
    An MLflow scoring server (``POST …/invocations``): request
    ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``, response
    ``{"predictions": ...}``.
``kserve_v2``
    The Open Inference Protocol (KServe v2, Triton, MLServer):
    ``POST …/v2/models/{model_name}/infer``. Inputs are one tensor per column,
    shape ``[n, 1]``, datatype by the column's type (``FP64``, ``INT64``,
    ``BOOL``, ``BYTES`` for text), with request parameter
    ``{"content_type": "pd"}`` (MLServer's pandas codec), or with
    ``input_tensor: NAME`` one ``FP32`` tensor ``[n, n_features]`` of numeric
    features (row-major; FP32 rounds the features). Response: the first output
    tensor, or the one a path selects, e.g. ``$.outputs[name=probabilities]``.

Response paths and decoding answers are in :mod:`privaudit.targets.http_responses` (re-exported here).

Example
-------
>>> JSONProtocol(request={"inputs": "{rows}", "columns": "{columns}"}).body(["age", "sex"], [[39, "Male"]])
{'inputs': [[39, 'Male']], 'columns': ['age', 'sex']}
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from privaudit.exceptions import ConfigError, DataError
from privaudit.redaction import redact_url
from privaudit.registry import Registry
from privaudit.targets.http_responses import ResponseFormatError, decode_outputs, extract, format_path, parse_response_path

__all__ = [
    "HTTP_PROTOCOLS", "ResponseFormatError", "JSONProtocol", "MLflowProtocol", "KServeV2Protocol",
    "parse_response_path", "format_path", "extract", "decode_outputs", "json_rows", "request_rows", "encode_body", "redact_url",
]

#: name → protocol class (``json``, ``mlflow``, ``kserve_v2``)
HTTP_PROTOCOLS: Registry = Registry("HTTP protocol")

PLACEHOLDERS = ("{records}", "{rows}", "{columns}")


# -- request bodies ------------------------------------------------------------------------


def json_rows(frame) -> tuple[list[str], list[list]]:
    """Column names and rows of a feature DataFrame as JSON-ready Python values (NaN → null).

    Floats keep every bit: Python's JSON writer prints the shortest text that reads back to the same double.
    """
    columns = [str(c) for c in frame.columns]
    values = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return columns, values


def request_rows(features: pd.DataFrame, *, transform, needs_numeric: bool, name: str) -> tuple[list[str], list[list]]:
    """Column names and rows to send: the features as JSON values, or numbers (through ``transform``, or when ``needs_numeric``)."""
    if transform is None and not needs_numeric:
        return json_rows(features)
    if transform is not None:
        matrix = transform.transform(features)
        matrix = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
        names = getattr(transform, "get_feature_names_out", None)
        columns = [str(c) for c in names()] if names is not None else [f"x{i}" for i in range(matrix.shape[1])]
    else:
        non_numeric = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
        if non_numeric:
            raise DataError(f"target '{name}': input_tensor sends one numeric tensor, but feature columns {', '.join(map(str, non_numeric[:5]))} are not numeric; give a transform or send one tensor per column (no input_tensor)")
        matrix, columns = features.to_numpy(), [str(c) for c in features.columns]
    dtype = np.float32 if needs_numeric else np.float64
    return columns, np.asarray(matrix, dtype=dtype).astype(np.float64).tolist()


def _json_default(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"values of type {type(value).__name__} cannot be sent as JSON")


def encode_body(document: Any) -> bytes:
    """A request document as compact UTF-8 JSON (dates as ISO text, numpy scalars as numbers); ``ValueError``/``TypeError`` if it cannot be."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default).encode("utf-8")


def _substitute(template: Any, columns: list[str], rows: list[list]) -> Any:
    if isinstance(template, str):
        if template == "{records}":
            return [dict(zip(columns, row)) for row in rows]
        if template == "{rows}":
            return rows
        if template == "{columns}":
            return columns
        return template
    if isinstance(template, dict):
        return {key: _substitute(value, columns, rows) for key, value in template.items()}
    if isinstance(template, list):
        return [_substitute(value, columns, rows) for value in template]
    return template


def _contains_placeholder(template: Any) -> bool:
    if isinstance(template, str):
        return template in ("{records}", "{rows}")
    if isinstance(template, dict):
        return any(_contains_placeholder(v) for v in template.values())
    if isinstance(template, list):
        return any(_contains_placeholder(v) for v in template)
    return False


def _refuse(name: str, **unused) -> None:
    given = [key for key, value in unused.items() if value is not None]
    if given:
        raise ConfigError(f"protocol '{name}' does not use {', '.join(given)}")


@HTTP_PROTOCOLS.register("json")
class JSONProtocol:
    """A generic JSON API: ``url`` as given, the body from a ``request`` template (see the module docstring)."""

    name = "json"
    default_response = "$.predictions"
    needs_numeric = False

    def __init__(self, *, request: dict | None = None, model_name: str | None = None, input_tensor: str | None = None) -> None:
        _refuse(self.name, model_name=model_name, input_tensor=input_tensor)
        template = {"instances": "{records}"} if request is None else request
        if not isinstance(template, dict) or not _contains_placeholder(template):
            raise ConfigError("request must be a JSON mapping with a \"{records}\" or \"{rows}\" placeholder, e.g. {instances: \"{records}\"}")
        self.request = template

    def endpoint(self, url: str) -> str:
        return url

    def body(self, columns: list[str], rows: list[list]) -> dict:
        return _substitute(self.request, columns, rows)


@HTTP_PROTOCOLS.register("mlflow")
class MLflowProtocol:
    """MLflow's scoring server: ``…/invocations`` (appended unless the URL ends with it), ``dataframe_split`` in, ``predictions`` out."""

    name = "mlflow"
    default_response = "$.predictions"
    needs_numeric = False

    def __init__(self, *, request: dict | None = None, model_name: str | None = None, input_tensor: str | None = None) -> None:
        _refuse(self.name, request=request, model_name=model_name, input_tensor=input_tensor)

    def endpoint(self, url: str) -> str:
        return url if urlsplit(url).path.rstrip("/").endswith("/invocations") else url.rstrip("/") + "/invocations"

    def body(self, columns: list[str], rows: list[list]) -> dict:
        return {"dataframe_split": {"columns": columns, "data": rows}}


def _v2_datatype(values: list) -> str:
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {bool} and kinds:
        return "BOOL"
    if kinds <= {int}:
        return "INT64"
    if kinds <= {int, float}:
        return "FP64"
    return "BYTES"


@HTTP_PROTOCOLS.register("kserve_v2")
class KServeV2Protocol:
    """The Open Inference Protocol (KServe v2): one tensor per column, or one FP32 tensor named ``input_tensor``."""

    name = "kserve_v2"
    default_response = "$.outputs[0]"

    def __init__(self, *, request: dict | None = None, model_name: str | None = None, input_tensor: str | None = None) -> None:
        _refuse(self.name, request=request)
        self.model_name = model_name
        self.input_tensor = input_tensor
        self.needs_numeric = input_tensor is not None

    def endpoint(self, url: str) -> str:
        if "/v2/models/" in urlsplit(url).path:
            return url
        if not self.model_name:
            raise ConfigError("protocol kserve_v2 needs model_name (or a url ending in /v2/models/NAME/infer)")
        return f"{url.rstrip('/')}/v2/models/{self.model_name}/infer"

    def body(self, columns: list[str], rows: list[list]) -> dict:
        n = len(rows)
        if self.input_tensor is not None:  # rows are numbers already rounded to float32 (see needs_numeric)
            flat = [v for row in rows for v in row]
            return {"inputs": [{"name": self.input_tensor, "shape": [n, len(columns)], "datatype": "FP32", "data": flat}]}
        inputs = []
        for j, column in enumerate(columns):
            values = [row[j] for row in rows]
            datatype = _v2_datatype(values)
            tensor = {"name": column, "shape": [n, 1], "datatype": datatype, "data": values}
            if datatype == "BYTES":
                tensor["data"] = [None if v is None else str(v) for v in values]
                tensor["parameters"] = {"content_type": "str"}
            inputs.append(tensor)
        return {"parameters": {"content_type": "pd"}, "inputs": inputs}
