"""Reading a finished ``report.json`` back, for ``privaudit gate`` and ``privaudit model-card``.

A report handed to these commands may come from anywhere: an older
privaudit, a hand edit, a truncated copy, another tool's JSON. :func:`load_report`
reads it and :func:`validate_report` checks the *shape* of every field the two
commands use, so a malformed report ends in one line
``<file>: <field>: <what is wrong>; <fix>`` (:class:`~privaudit.exceptions.DataError`,
exit 2) instead of a traceback. Values are not judged here: a NaN or null figure
is well-formed, and the gate fails the bar it is compared with (see
:mod:`privaudit.gate`).

Example::

    document, path = load_report("privaudit-report")   # the folder or its report.json
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from privaudit.exceptions import ConfigError, DataError

__all__ = ["load_report", "validate_report", "is_number", "as_figure"]

_FIX = "rerun privaudit audit to write the report again"


def is_number(value) -> bool:
    """True for a JSON number (int or float, NaN and ±inf included), False for bool, str, None, containers."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_figure(value) -> float:
    """A report figure as a float: a number as it is, ``None`` (how strict JSON writes NaN/±inf) as NaN."""
    return math.nan if value is None else float(value)


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field: str, problem: str) -> None:
        raise DataError(f"{self.path}: {field}: {problem}; {_FIX}")

    def mapping(self, value, field: str) -> dict:
        if not isinstance(value, dict):
            self.fail(field, f"expected an object, got {_kind(value)}")
        return value

    def key(self, entry: dict, key: str, field: str):
        if key not in entry:
            self.fail(f"{field}.{key}", "missing")
        return entry[key]

    def number(self, value, field: str, *, nullable: bool = False) -> None:
        if value is None and nullable:
            return
        if not is_number(value):
            self.fail(field, f"expected a number, got {_kind(value)}")

    def pair(self, value, field: str) -> None:
        """An interval: null, or a list of two numbers (null ends allowed: strict JSON writes NaN as null)."""
        if value is None:
            return
        if not isinstance(value, list) or len(value) != 2:
            self.fail(field, f"expected an interval [low, high], got {_kind(value)}")
        for i, end in enumerate(value):
            self.number(end, f"{field}[{i}]", nullable=True)

    def optional(self, entry: dict, key: str, field: str, kind: type | tuple, what: str) -> None:
        value = entry.get(key)
        if value is not None and not isinstance(value, kind):
            self.fail(f"{field}.{key}", f"expected {what}, got {_kind(value)}")


def _check_result(check: _Checker, entry, field: str) -> None:
    entry = check.mapping(entry, field)
    for key in ("target", "attack"):
        value = check.key(entry, key, field)
        if not isinstance(value, str):
            check.fail(f"{field}.{key}", f"expected a name (text), got {_kind(value)}")
    check.number(check.key(entry, "auc", field), f"{field}.auc", nullable=True)
    check.pair(entry.get("auc_ci"), f"{field}.auc_ci")
    if "confidence" in entry:
        check.number(entry["confidence"], f"{field}.confidence")
    if "n_nonmembers" in entry:
        check.number(entry["n_nonmembers"], f"{field}.n_nonmembers", nullable=True)
    points = check.mapping(entry.get("tpr_at_fpr", {}), f"{field}.tpr_at_fpr")
    for key, point in points.items():
        here = f"{field}.tpr_at_fpr[{key!r}]"
        try:
            float(key)
        except ValueError:
            check.fail(here, "the key must be a target FPR such as '0.01'")
        point = check.mapping(point, here)
        check.number(check.key(point, "tpr", here), f"{here}.tpr", nullable=True)
        check.pair(point.get("ci"), f"{here}.ci")
        check.number(point.get("fpr_realised"), f"{here}.fpr_realised", nullable=True)
        check.optional(point, "supported", here, bool, "true or false")
    eps = entry.get("epsilon_lower_bound")
    if eps is not None:
        here = f"{field}.epsilon_lower_bound"
        eps = check.mapping(eps, here)
        check.number(eps.get("epsilon_lb"), f"{here}.epsilon_lb", nullable=True)
        for key in ("delta", "confidence", "n_candidates"):
            check.number(eps.get(key), f"{here}.{key}", nullable=True)
        check.optional(eps, "label", here, str, "text")
        check.optional(eps, "correction", here, str, "text")
        check.optional(eps, "valid", here, bool, "true or false")
        check.optional(eps, "one_run", here, dict, "an object")


def validate_report(document, path: Path) -> dict:
    """Check the shape of ``document`` (a parsed report.json) where gate and model-card read it; returns it.

    Raises
    ------
    DataError
        One line naming ``path``, the field (e.g. ``results[2].auc``), what is
        wrong with it and the fix.
    """
    check = _Checker(Path(path))
    if not isinstance(document, dict):
        check.fail("top level", f"expected the report object, got {_kind(document)}")
    results = document.get("results")
    if not isinstance(results, list):
        check.fail("results", "missing or not a list: not a privaudit report.json" if results is None else f"expected a list, got {_kind(results)}")
    if not results:
        raise DataError(f"{path}: results: the report has no results to check; rerun privaudit audit with at least one attack")
    for i, entry in enumerate(results):
        _check_result(check, entry, f"results[{i}]")
    for key in ("run", "data", "verdicts", "defences"):
        check.optional(document, key, "report", dict, "an object")
    if document.get("run"):
        for key in ("config", "reference", "versions"):
            check.optional(document["run"], key, "run", dict, "an object")
        for name, ref in (document["run"].get("reference") or {}).items():
            check.mapping(ref, f"run.reference[{name!r}]")
        targets = ((document["run"].get("config") or {}).get("targets"))
        if targets is not None and not isinstance(targets, list):
            check.fail("run.config.targets", f"expected a list, got {_kind(targets)}")
    for key in ("n_members", "n_nonmembers", "n_population"):
        check.number((document.get("data") or {}).get(key), f"data.{key}", nullable=True)
    targets = document.get("targets", [])
    if not isinstance(targets, list):
        check.fail("targets", f"expected a list, got {_kind(targets)}")
    for i, target in enumerate(targets):
        target = check.mapping(target, f"targets[{i}]")
        if not isinstance(target.get("name"), str):
            check.fail(f"targets[{i}].name", f"expected a name (text), got {_kind(target.get('name'))}")
    for name, text in (document.get("verdicts") or {}).items():
        if not isinstance(text, str):
            check.fail(f"verdicts[{name!r}]", f"expected a sentence (text), got {_kind(text)}")
    if document.get("text") is not None:
        _check_text_section(check, document["text"])
    return document


def _check_text_section(check: _Checker, text) -> None:
    """The ``text`` key of a text audit's report (schema 1.1), where model-card reads it."""
    text = check.mapping(text, "text")
    check.optional(text, "warning", "text", str, "text")
    check.optional(text, "reference", "text", str, "text")
    for key in ("claim", "canaries", "queries", "setup", "beats_blind_baseline"):
        check.optional(text, key, "text", dict, "an object")
    blind = text.get("blind_baseline")
    if blind is not None:
        blind = check.mapping(blind, "text.blind_baseline")
        check.number(blind.get("auc"), "text.blind_baseline.auc", nullable=True)
        check.pair(blind.get("auc_ci"), "text.blind_baseline.auc_ci")
    for name, beats in (text.get("beats_blind_baseline") or {}).items():
        if beats is not None and not isinstance(beats, bool):
            check.fail(f"text.beats_blind_baseline[{name!r}]", f"expected true, false or null, got {_kind(beats)}")
    summary = (text.get("canaries") or {}).get("summary")
    if summary is not None:
        for key, entry in check.mapping(summary, "text.canaries.summary").items():
            entry = check.mapping(entry, f"text.canaries.summary[{key!r}]")
            check.number(entry.get("mean"), f"text.canaries.summary[{key!r}].mean", nullable=True)


#: the largest report.json ``gate`` and ``model-card`` read (a real one is tens of kilobytes)
MAX_REPORT_BYTES = 64 << 20


def load_report(path: str | Path) -> tuple[dict, Path]:
    """Read and validate a ``report.json`` (or the folder holding one); returns ``(document, path of the file)``.

    Raises
    ------
    ConfigError
        No such file (or no report.json in the folder), or it cannot be read.
    DataError
        Not JSON, not UTF-8, nested absurdly deep, or malformed
        (:func:`validate_report`).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    if not path.is_file():
        raise ConfigError(f"{path}: report not found; give the report.json that privaudit audit or demo wrote, or the folder holding it")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_REPORT_BYTES + 1)
        if len(raw) > MAX_REPORT_BYTES:
            raise DataError(f"{path}: larger than {MAX_REPORT_BYTES >> 20} MiB, far more than any report.json privaudit writes "
                            f"(its figures do not grow with the records); {_FIX}")
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a valid JSON report (not UTF-8: {exc.reason} at byte {exc.start}); {_FIX}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the report ({exc.strerror or exc}); check its permissions") from None
    if not text.strip():
        raise DataError(f"{path}: not a valid JSON report (the file is empty); {_FIX}")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not a valid JSON report ({exc}); {_FIX}") from None
    except RecursionError:
        raise DataError(f"{path}: not a valid JSON report (nested too deeply); {_FIX}") from None
    return validate_report(document, path), path
