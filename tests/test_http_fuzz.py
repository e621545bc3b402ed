"""Property-based tests of the HTTP response parser (issue 13): random and mutated answers, for each protocol.

Whatever a server answers — valid, near-valid, mutated bytes, random JSON, deep nesting, huge numbers — reading
it gives outputs of the promised shape or a :class:`~privaudit.exceptions.PrivauditError`; nothing else escapes.
Examples are bounded (``max_examples``, sizes) so the file runs in seconds.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from privaudit.exceptions import PrivauditError  # noqa: E402
from privaudit.targets.http_batches import outputs_from_answer  # noqa: E402
from privaudit.targets.http_protocols import HTTP_PROTOCOLS, parse_response_path  # noqa: E402

CLASSES = ("no", "yes")
N = 3
SECRETS = {"PRIVAUDIT_API_TOKEN": "Bearer fuzz-token-123456"}

# protocol → (response path, a valid answer for N records: probabilities, labels)
VALID = {
    "json": ("$.predictions[*].probabilities",
             {"predictions": [{"probabilities": [0.25, 0.75]}, {"probabilities": [0.5, 0.5]}, {"probabilities": [1.0, 0.0]}]},
             {"predictions": [{"probabilities": "yes"}, {"probabilities": "no"}, {"probabilities": "yes"}]}),
    "mlflow": (HTTP_PROTOCOLS.get("mlflow").default_response, {"predictions": [[0.25, 0.75], [0.5, 0.5], [1.0, 0.0]]},
               {"predictions": ["yes", "no", "yes"]}),
    "kserve_v2": (HTTP_PROTOCOLS.get("kserve_v2").default_response,
                  {"model_name": "m", "outputs": [{"name": "probabilities", "shape": [N, 2], "datatype": "FP64", "data": [0.25, 0.75, 0.5, 0.5, 1.0, 0.0]}]},
                  {"model_name": "m", "outputs": [{"name": "label", "shape": [N], "datatype": "BYTES", "data": ["yes", "no", "yes"]}]}),
}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**400) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.sampled_from(["predictions", "outputs", "probabilities", "data", "shape", "name", "x"]), children, max_size=4),
    max_leaves=30,
)


def _read(protocol: str, body: bytes, output_kind: str):
    path = VALID[protocol][0]
    return outputs_from_answer(body, steps=parse_response_path(path), response_path=path, n_records=N, output_kind=output_kind,
                               classes=CLASSES, secrets=SECRETS)


def _check(protocol: str, body: bytes, output_kind: str) -> None:
    try:
        outputs = _read(protocol, body, output_kind)
    except PrivauditError as exc:
        assert "\n" not in str(exc) and "fuzz-token-123456" not in str(exc)
        return
    if output_kind == "labels":
        assert isinstance(outputs, list) and len(outputs) == N and all(isinstance(label, str) for label in outputs)
    else:
        assert outputs.shape == (N, len(CLASSES)) and outputs.dtype == np.float64 and np.isfinite(outputs).all()


@pytest.mark.parametrize("protocol", sorted(VALID))
def test_valid_answers_are_read(protocol):
    path, probabilities, labels = VALID[protocol]
    assert _read(protocol, json.dumps(probabilities).encode(), "probabilities").shape == (N, 2)
    if protocol != "json":
        assert _read(protocol, json.dumps(labels).encode(), "labels") == ["yes", "no", "yes"]


@pytest.mark.parametrize("protocol", sorted(VALID))
@pytest.mark.parametrize("output_kind", ["probabilities", "labels"])
@FUZZ
@given(document=json_values)
def test_random_json_answers_give_outputs_or_a_privaudit_error(protocol, output_kind, document):
    _check(protocol, json.dumps(document).encode(), output_kind)


@pytest.mark.parametrize("protocol", sorted(VALID))
@pytest.mark.parametrize("output_kind", ["probabilities", "labels"])
@FUZZ
@given(data=st.data())
def test_mutated_valid_answers_give_outputs_or_a_privaudit_error(protocol, output_kind, data):
    body = bytearray(json.dumps(VALID[protocol][1 if output_kind == "probabilities" else 2]).encode())
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(body) - 1))
        action = data.draw(st.sampled_from(["replace", "delete", "insert", "truncate"]))
        byte = data.draw(st.sampled_from(list(b'0123456789-.eE[]{}",:tnul \\') + [0, 0xFF, 0xC3]))
        if action == "replace":
            body[position] = byte
        elif action == "delete":
            del body[position]
        elif action == "insert":
            body.insert(position, byte)
        else:
            del body[position:]
        if not body:
            break
    _check(protocol, bytes(body), output_kind)


@pytest.mark.parametrize("body", [
    b"", b"null", b"[]", b"{}", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b'{"predictions": ' + b"[" * 900 + b"]" * 900 + b"}",
    b'{"predictions": [[1e999, 0], [0, 1], [0, 1]]}', b'{"predictions": [[' + b"9" * 5000 + b', 0], [0, 1], [0, 1]]}',
    b'{"predictions": [[' + b"9" * 400 + b', 0], [0, 1], [0, 1]]}', b'{"predictions": [[NaN, 0], [0, 1], [0, 1]]}',
    b'{"outputs": [{"shape": [3, 2], "data": [[[[1]]]]}]}', b'{"outputs": [{"shape": [true, 2], "data": [1, 2]}]}',
    b'{"outputs": [{"shape": [100000000000, 100000000000], "data": []}]}', b'{"outputs": [{"shape": [3, 2], "data": "AAAA"}]}',
])
@pytest.mark.parametrize("protocol", sorted(VALID))
@pytest.mark.parametrize("output_kind", ["probabilities", "labels"])
def test_pathological_answers_give_outputs_or_a_privaudit_error(protocol, output_kind, body):
    _check(protocol, body, output_kind)
