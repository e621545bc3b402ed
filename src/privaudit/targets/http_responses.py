"""Reading prediction APIs' answers: response paths and decoding outputs (pure; no network).

Response paths
--------------
A path says where the outputs sit in the response document. Grammar (no
expressions, nothing evaluated)::

    path    := ["$"] step*          a leading bare key needs no dot: predictions[*].probabilities
    step    := "." KEY              a mapping's value; KEY = letters, digits, _ and -
             | "[" INTEGER "]"      a list's element (negative counts from the end)
             | "[*]"                every element of a list (the rest of the path applies to each)
             | "[" KEY "=" TEXT "]" the first element of a list whose KEY equals TEXT (compared as text)
             | "[\\"" TEXT "\\"]"   a mapping's value for any key text (dots, spaces)

Where the path ends there must be, for ``n`` records and ``C`` classes:

* probabilities or logits: ``n`` rows of ``C`` numbers, or ``n`` mappings
  ``{class: number}`` (keys matched to the classes as text), or an Open
  Inference Protocol tensor ``{"shape": [n, C], "data": [...]}``;
* labels: ``n`` class values (or one-element rows, or a tensor of shape
  ``[n]`` / ``[n, 1]``); they are matched to the classes as text.

Anything else raises :class:`ResponseFormatError` (a ``ValueError``), which
the HTTP target turns into a one-line :class:`~privaudit.exceptions.TargetError`.

Example
-------
>>> document = {"predictions": [{"probabilities": [0.25, 0.75]}, {"probabilities": [0.5, 0.5]}]}
>>> extract(document, parse_response_path("$.predictions[*].probabilities"))
[[0.25, 0.75], [0.5, 0.5]]
>>> decode_outputs([[0.25, 0.75], [0.5, 0.5]], n_records=2, output_kind="probabilities", classes=("no", "yes")).tolist()
[[0.25, 0.75], [0.5, 0.5]]
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

import numpy as np

from privaudit.exceptions import ConfigError

__all__ = ["ResponseFormatError", "parse_response_path", "format_path", "extract", "decode_outputs"]


class ResponseFormatError(ValueError):
    """A response does not hold what the path and output kind promise (turned into a TargetError by the target)."""


_KEY = r"[A-Za-z0-9_\-]+"
_STEP = re.compile(
    rf"""\.(?P<key>{_KEY})
        |\[(?P<index>-?\d+)\]
        |\[(?P<all>\*)\]
        |\[(?P<match_key>{_KEY})=(?P<match_value>[^\]]*)\]
        |\["(?P<quoted>[^"]*)"\]""",
    re.VERBOSE,
)


def parse_response_path(path: str) -> tuple[tuple, ...]:
    """Parse a response path into steps: ``("key", k)``, ``("index", i)``, ``("all",)``, ``("match", k, v)``.

    Raises :class:`ConfigError` naming the position of the first character that is not part of a step.

    >>> parse_response_path("predictions[*].probabilities")
    (('key', 'predictions'), ('all',), ('key', 'probabilities'))
    """
    if not isinstance(path, str):
        raise ConfigError(f"response path must be text like '$.predictions[*].probabilities', got {type(path).__name__}")
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and re.match(_KEY, text):
        text = "." + text
    steps: list[tuple] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None:
            raise ConfigError(
                f"response path '{path}': cannot read '{text[position:]}' (steps are .key, [0], [*], [key=value] or [\"any key\"])"
            )
        groups = match.groupdict()
        if groups["key"] is not None:
            steps.append(("key", groups["key"]))
        elif groups["index"] is not None:
            steps.append(("index", int(groups["index"])))
        elif groups["all"] is not None:
            steps.append(("all",))
        elif groups["match_key"] is not None:
            steps.append(("match", groups["match_key"], groups["match_value"]))
        else:
            steps.append(("key", groups["quoted"]))
        position = match.end()
    return tuple(steps)


def format_path(steps: Sequence[tuple]) -> str:
    """The text of parsed ``steps`` (``$`` for none), as error messages show it."""
    parts = ["$"]
    for step in steps:
        if step[0] == "key":
            parts.append(f".{step[1]}" if re.fullmatch(_KEY, step[1]) else f'["{step[1]}"]')
        elif step[0] == "index":
            parts.append(f"[{step[1]}]")
        elif step[0] == "all":
            parts.append("[*]")
        else:
            parts.append(f"[{step[1]}={step[2]}]")
    return "".join(parts)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", type(None): "null", bool: "a boolean"}.get(type(value), "a number")


def extract(document: Any, steps: Sequence[tuple], _done: tuple = ()) -> Any:
    """Follow parsed ``steps`` into a decoded JSON ``document``; ``[*]`` maps the rest over a list.

    Raises :class:`ResponseFormatError` naming the path walked so far and what was found there.
    """
    if not steps:
        return document
    step, rest = steps[0], steps[1:]
    if step[0] == "key":
        if isinstance(document, dict) and step[1] in document:
            return extract(document[step[1]], rest, _done + (step,))
        if not isinstance(document, dict):
            raise ResponseFormatError(f"expected a mapping with key '{step[1]}' at {format_path(_done)}, found {_kind(document)}")
        keys = ", ".join(map(str, list(document)[:10])) or "none"
        raise ResponseFormatError(f"no key '{step[1]}' at {format_path(_done)} (keys there: {keys})")
    if not isinstance(document, list):
        raise ResponseFormatError(f"expected a list at {format_path(_done)}, found {_kind(document)}")
    if step[0] == "index":
        if not -len(document) <= step[1] < len(document):
            raise ResponseFormatError(f"index [{step[1]}] is out of range at {format_path(_done)} (a list of {len(document)})")
        return extract(document[step[1]], rest, _done + (step,))
    if step[0] == "all":
        if len(rest) == 1 and rest[0][0] == "key":  # the common "[*].key": one pass, no recursion
            key = rest[0][1]
            if all(isinstance(item, dict) and key in item for item in document):
                return [item[key] for item in document]
        return [extract(item, rest, _done + (("index", i),)) for i, item in enumerate(document)]
    for item in document:
        if isinstance(item, dict) and str(item.get(step[1])) == step[2]:
            return extract(item, rest, _done + (step,))
    raise ResponseFormatError(f"no element with {step[1]} = '{step[2]}' in the list at {format_path(_done)}")


# -- decoding outputs ----------------------------------------------------------------------


def _is_tensor(value: Any) -> bool:
    return isinstance(value, dict) and "data" in value and "shape" in value


def _from_tensor(tensor: dict) -> np.ndarray:
    """The tensor's data as an array of its shape (numeric dtype when the data are numbers, else object)."""
    shape = tensor.get("shape")
    if not isinstance(shape, list) or len(shape) > 32 or not all(type(s) is int and s >= 0 for s in shape):
        raise ResponseFormatError(f"tensor shape {str(shape)[:60]} is not a list of at most 32 sizes")
    data = tensor["data"]
    if not isinstance(data, list):
        raise ResponseFormatError(f"tensor data is {_kind(data)}, not a list (binary tensor data is not supported)")
    try:
        values = np.asarray(data)
        if values.dtype.kind not in "fiub":
            raise ValueError
    except (ValueError, OverflowError):  # text, huge integers, or ragged nesting
        try:
            values = np.asarray(data, dtype=object)
        except (ValueError, TypeError, RecursionError):
            raise ResponseFormatError("tensor data is neither a flat list of values nor a regular nesting of lists") from None
    values = values.reshape(-1)
    if values.size != math.prod(shape):
        raise ResponseFormatError(f"tensor of shape {shape} holds {values.size} values, not {math.prod(shape)}")
    return values.reshape(shape)


def decode_outputs(value: Any, *, n_records: int, output_kind: str, classes: Sequence) -> np.ndarray | list[str]:
    """Turn the value at the end of the response path into outputs for ``n_records`` records.

    Returns float64 ``(n_records, len(classes))`` for probabilities and logits
    (columns in ``classes`` order), or a list of ``n_records`` label texts for
    labels. Raises :class:`ResponseFormatError` for anything else.
    """
    n_classes = len(classes)
    if _is_tensor(value):
        tensor = _from_tensor(value)
        if output_kind != "labels" and tensor.shape == (n_records, n_classes) and tensor.dtype.kind in "fiu":
            return _finite(tensor.astype(np.float64, copy=False))
        value = tensor.tolist()
    if not isinstance(value, list):
        raise ResponseFormatError(f"expected a list of {n_records} {'labels' if output_kind == 'labels' else 'rows'}, found {_kind(value)}")
    if len(value) != n_records:
        raise ResponseFormatError(f"{len(value)} answers for {n_records} records")
    if output_kind == "labels":
        labels = []
        for i, item in enumerate(value):
            if isinstance(item, list) and len(item) == 1:
                item = item[0]
            if isinstance(item, (dict, list)) or item is None:
                raise ResponseFormatError(f"answer {i} is {_kind(item)}, not a class label")
            labels.append(str(item))
        return labels
    if value and all(isinstance(item, dict) for item in value):
        names = [str(c) for c in classes]
        rows = []
        for i, item in enumerate(value):
            keyed = {str(k): v for k, v in item.items()}
            missing = [name for name in names if name not in keyed]
            if missing:
                raise ResponseFormatError(f"answer {i} has keys {list(keyed)[:10]}, not the classes {names}")
            rows.append([keyed[name] for name in names])
        value = rows
    try:  # fast path: a rectangular list of numbers
        outputs = np.asarray(value)
    except ValueError:  # ragged rows: found below
        outputs = np.empty(0)
    if outputs.shape == (n_records, n_classes) and outputs.dtype.kind in "fiu":
        outputs = outputs.astype(np.float64, copy=False)
    else:
        outputs = _checked_rows(value, n_records, n_classes, output_kind, classes)
    return _finite(outputs)


def _finite(outputs: np.ndarray) -> np.ndarray:
    if not np.isfinite(outputs).all():
        raise ResponseFormatError(f"answer {int(np.flatnonzero(~np.isfinite(outputs).all(axis=1))[0])} holds NaN or infinity")
    return outputs


def _checked_rows(value: list, n_records: int, n_classes: int, output_kind: str, classes: Sequence) -> np.ndarray:
    """Rows checked one by one, for a message that names the first bad answer."""
    for i, row in enumerate(value):
        if not isinstance(row, list) or len(row) != n_classes:
            found = f"{len(row)} values" if isinstance(row, list) else _kind(row)
            raise ResponseFormatError(f"answer {i} is {found}, expected {n_classes} {output_kind} (one per class {list(classes)})")
        for number in row:
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise ResponseFormatError(f"answer {i} holds {_kind(number)} ({str(number)[:40]!r}), not a number")
    return np.asarray(value, dtype=np.float64).reshape(n_records, n_classes)
