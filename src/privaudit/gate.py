"""Check a finished audit against leakage bars: the library behind ``privaudit gate``.

A *bar* is a maximum for one figure of ``report.json`` (AUC, TPR at a
target FPR, ε lower bound). :func:`check_report` compares every bar with the
worst (target, attack) result of the report — or with one attack — and says,
per bar, whether it was exceeded. It reads the report only: it computes no
new statistics.

What is compared with the bar (``compare``):

* ``"estimate"`` (default): the point estimate (AUC, TPR at the target FPR).
  Deterministic for a given audit and seed; the interval is shown beside it.
* ``"upper"``: the upper end of the figure's confidence interval — the strict
  reading, "the audit must show the leakage is below the bar"; small audits
  with wide intervals then fail.

The ε lower bound is itself a one-sided confidence bound, so its value is
compared as it is under both settings. The gate takes the largest ε over the
attacks of a target; an audit with randomised membership stores each attack's
one-run bound already corrected for that choice (Bonferroni over the target's
K attacks × G guess sets, ``epsilon_lower_bound.correction`` in report.json), so
that maximum holds at the stated confidence. A report whose one-run bounds were
not corrected for all the attacks compared (written by an older privaudit) is
refused for ``--max-epsilon-lb`` unless ``--attack`` names one attack. Several
targets are several models: each target's figure holds at the stated confidence
on its own.

**Bars and figures that are not numbers.** A NaN or infinite bar is a usage
mistake (:class:`ConfigError`, exit 2). A figure the report holds as NaN or null
(strict JSON writes NaN as null) cannot show that the leakage is below the bar:
it *fails* that bar, and the line says so ("not a number in the report").

Example::

    report, path = load_report("privaudit-report")
    checks = check_report(report, [Bar("auc", 0.6), parse_tpr_bar("0.001:0.02")])
    failed = [c for c in checks if c.exceeded]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from privaudit.attacks.names import resolve_attack_name
from privaudit.exceptions import ConfigError, DataError, UnknownNameError
from privaudit.metrics import MIN_EXPECTED_FALSE_POSITIVES
from privaudit.report_document import as_figure, load_report

__all__ = ["Bar", "BarCheck", "COMPARE_CHOICES", "parse_tpr_bar", "load_report", "check_report", "format_check"]  # load_report: from privaudit.report_document

COMPARE_CHOICES = ("estimate", "upper")
_METRICS = ("auc", "tpr_at_fpr", "epsilon_lb")
_OPTION = {"auc": "--max-auc", "tpr_at_fpr": "--max-tpr-at-fpr", "epsilon_lb": "--max-epsilon-lb"}


def _count_text(value) -> str:
    return f"{int(value):,}" if isinstance(value, (int, float)) and math.isfinite(value) else "an unrecorded number of"


def _fpr_text(fpr: float) -> str:
    return f"{100.0 * fpr:.4g}%"


@dataclass(frozen=True)
class Bar:
    """A maximum for one figure: ``metric`` is ``"auc"``, ``"tpr_at_fpr"`` (with ``fpr``) or ``"epsilon_lb"``."""

    metric: str
    limit: float
    fpr: float | None = None

    def __post_init__(self) -> None:
        if self.metric not in _METRICS:
            raise ConfigError(f"unknown bar metric '{self.metric}'; known: {', '.join(_METRICS)}")
        if (self.metric == "tpr_at_fpr") != (self.fpr is not None):
            raise ConfigError("a tpr_at_fpr bar needs an fpr, and only it")
        if isinstance(self.limit, bool) or not isinstance(self.limit, (int, float)) or not math.isfinite(self.limit):
            raise ConfigError(f"{_OPTION[self.metric]} {self.limit}: a bar must be a finite number (not NaN or infinity); "
                              "give the largest acceptable value, e.g. --max-auc 0.6")
        if self.fpr is not None and not (isinstance(self.fpr, (int, float)) and 0 < self.fpr < 1):
            raise ConfigError(f"--max-tpr-at-fpr: FPR {self.fpr} must be a number in (0, 1)")

    def describe(self) -> str:
        """E.g. ``'AUC ≤ 0.6'``, ``'TPR at 0.1% FPR ≤ 2%'``, ``'ε lower bound ≤ 1'``."""
        if self.metric == "auc":
            return f"AUC ≤ {self.limit:g}"
        if self.metric == "tpr_at_fpr":
            return f"TPR at {_fpr_text(self.fpr)} FPR ≤ {100.0 * self.limit:.4g}%"
        return f"ε lower bound ≤ {self.limit:g}"


@dataclass(frozen=True)
class BarCheck:
    """One bar against the result that comes closest to (or furthest past) it.

    ``value`` is the point estimate, ``ci`` its interval (None for ε),
    ``compared`` the number set against ``bar.limit`` (``value`` or the
    interval's upper end), ``exceeded`` whether ``compared > bar.limit``.
    ``detail`` holds the ε label and δ, or the realised FPR.
    """

    bar: Bar
    target: str
    attack: str
    value: float
    ci: tuple[float, float] | None
    compared: float
    exceeded: bool
    confidence: float
    detail: str = ""
    compare: str = "estimate"


def parse_tpr_bar(text: str) -> Bar:
    """``'FPR:TPR'`` (fractions, e.g. ``'0.001:0.02'``) → a tpr_at_fpr :class:`Bar`.

    Examples
    --------
    >>> parse_tpr_bar("0.001:0.02")
    Bar(metric='tpr_at_fpr', limit=0.02, fpr=0.001)
    """
    parts = str(text).split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        fpr, tpr = float(parts[0]), float(parts[1])
    except ValueError:
        raise ConfigError(f"--max-tpr-at-fpr '{text}': expected FPR:TPR as two fractions, e.g. 0.001:0.02") from None
    if not 0 < fpr < 1 or not 0 <= tpr <= 1:  # NaN fails both comparisons
        raise ConfigError(f"--max-tpr-at-fpr '{text}': FPR must lie in (0, 1) and TPR in [0, 1], as fractions (0.001:0.02 means TPR ≤ 2 % at 0.1 % FPR)")
    return Bar("tpr_at_fpr", tpr, fpr)


def _entry_name(entry: dict) -> str:
    return f"{entry.get('target')}/{entry.get('attack')}"


def _pick(results: list[dict], attack: str | None, source: str) -> list[dict]:
    """The results ``attack`` names: ATTACK (every target) or TARGET/ATTACK, ATTACK exact or short (:func:`resolve_attack_name`)."""
    if attack is None:
        return results
    pool = results
    target, slash, rest = attack.partition("/")
    if slash and target in {str(r.get("target")) for r in results} and attack not in {str(r.get("attack")) for r in results}:
        pool, attack = [r for r in results if str(r.get("target")) == target], rest
    try:
        name = resolve_attack_name(attack, (str(r.get("attack")) for r in pool), where=source + (f" for target '{target}'" if pool is not results else ""))
    except UnknownNameError as exc:
        raise ConfigError(f"{exc} (or TARGET/ATTACK)") from None
    return [r for r in pool if str(r.get("attack")) == name]


def _point(entry: dict, fpr: float) -> dict | None:
    for key, point in entry.get("tpr_at_fpr", {}).items():
        try:
            if math.isclose(float(key), fpr, rel_tol=1e-9):
                return point
        except ValueError:
            continue
    return None


_NOT_A_NUMBER = "not a number in the report (NaN or null; strict JSON also writes ±∞ as null): fails the bar"


def _judge(bar: Bar, target: str, attack: str, value: float, ci, compare: str, confidence: float, detail: str = "") -> BarCheck:
    """The check of one figure: NaN (or a missing interval end under ``compare="upper"``) fails the bar."""
    ci = None if ci is None else (as_figure(ci[0]), as_figure(ci[1]))
    compared = (ci[1] if ci is not None else math.nan) if compare == "upper" else value
    if math.isnan(compared):
        detail = f"{detail}; {_NOT_A_NUMBER}" if detail else _NOT_A_NUMBER
        return BarCheck(bar, target, attack, value, ci, compared, True, confidence, detail)
    return BarCheck(bar, target, attack, value, ci, compared, compared > bar.limit, confidence, detail)


def _measure(entry: dict, bar: Bar, compare: str, source: str) -> BarCheck:
    confidence = float(entry.get("confidence", 0.95))
    target, attack = str(entry.get("target")), str(entry.get("attack"))
    if bar.metric == "auc":
        return _judge(bar, target, attack, as_figure(entry["auc"]), entry.get("auc_ci"), compare, confidence)
    if bar.metric == "tpr_at_fpr":
        point = _point(entry, bar.fpr)
        if point is None:
            have = ", ".join(sorted(entry.get("tpr_at_fpr", {}), key=float, reverse=True)) or "none"
            raise ConfigError(
                f"--max-tpr-at-fpr {bar.fpr:g}:{bar.limit:g}: FPR {bar.fpr:g} is not in {source} (it has {have}); "
                f"use one of those, or rerun the audit with {bar.fpr:g} in metrics.fprs"
            )
        if not point.get("supported", True):
            raise ConfigError(
                f"--max-tpr-at-fpr {bar.fpr:g}:{bar.limit:g}: {source} cannot support a TPR at {_fpr_text(bar.fpr)} FPR "
                f"(only {_count_text(entry.get('n_nonmembers'))} non-members: fewer than {MIN_EXPECTED_FALSE_POSITIVES} expected false positives); "
                "gate at a larger FPR or audit more non-members"
            )
        return _judge(bar, target, attack, as_figure(point["tpr"]), point.get("ci"), compare, confidence,
                      detail=f"realised FPR {100.0 * as_figure(point.get('fpr_realised')):.3g}%")
    eps = entry.get("epsilon_lower_bound")
    if not isinstance(eps, dict):
        raise DataError(f"--max-epsilon-lb: {source} has no epsilon_lower_bound for {target}/{attack}; rerun privaudit audit with this version to add it")
    detail = f"{eps.get('label') or 'heuristic estimate'}, δ = {as_figure(eps.get('delta', 0.0)):g}"
    if eps.get("correction"):
        detail += f"; {eps['correction']}"
    return _judge(bar, target, attack, as_figure(eps.get("epsilon_lb")), None, "estimate", as_figure(eps.get("confidence", confidence)), detail)


def _check_epsilon_correction(results: list[dict], source: str) -> None:
    """Refuse a maximum over one-run bounds that were not corrected for every attack of their target (old reports)."""
    per_target: dict[str, int] = {}
    for entry in results:
        per_target[entry["target"]] = per_target.get(entry["target"], 0) + 1
    for entry in results:
        eps = entry.get("epsilon_lower_bound")
        if not isinstance(eps, dict) or not eps.get("valid") or per_target[entry["target"]] < 2:
            continue
        covered = eps.get("n_candidates")
        if covered is None or covered < per_target[entry["target"]]:
            raise DataError(
                f"--max-epsilon-lb: {source}: the one-run ε of {entry['target']}/{entry['attack']} is corrected for "
                f"{covered or 1} attack(s), but the gate would take the largest of {per_target[entry['target']]}; "
                "rerun privaudit audit with this version (it corrects for every attack), or gate one attack with --attack")


def check_report(report: dict, bars: list[Bar], *, attack: str | None = None, compare: str = "estimate", source: str = "report.json") -> list[BarCheck]:
    """Check each bar against the worst result of ``report`` (or of ``attack`` only).

    Parameters
    ----------
    report : dict
        A loaded ``report.json`` (:func:`load_report`).
    bars : list of Bar
    attack : str, optional
        An attack name as in ``results[].attack`` (all targets), or
        ``TARGET/ATTACK``. Default: every result, worst per bar.
    compare : {"estimate", "upper"}
        Compare the point estimate, or the upper end of its interval (see the
        module docstring). The ε lower bound is compared as it is.
    source : str
        Name of the report in error messages.

    Returns
    -------
    list of BarCheck
        One per bar, in order: the result with the largest compared figure.

    Raises
    ------
    ConfigError
        No bars, an unknown ``attack`` or ``compare``, an FPR the report does
        not hold or cannot support.
    """
    if not bars:
        raise ConfigError("give at least one bar: --max-auc, --max-tpr-at-fpr FPR:TPR or --max-epsilon-lb")
    if compare not in COMPARE_CHOICES:
        raise ConfigError(f"compare must be one of {', '.join(COMPARE_CHOICES)}, got '{compare}'")
    results = _pick(report["results"], attack, source)
    checks = []
    for bar in bars:
        if bar.metric == "epsilon_lb":
            _check_epsilon_correction(results, source)
        measured = [_measure(entry, bar, compare, source) for entry in results]
        # a figure that is not a number fails its bar, so it counts as the worst; then the largest (first of equals: report order)
        worst = max(measured, key=lambda c: (math.isnan(c.compared), 0.0 if math.isnan(c.compared) else c.compared))
        checks.append(replace(worst, compare="estimate" if bar.metric == "epsilon_lb" else compare))
    return checks


def format_check(check: BarCheck) -> str:
    """One line: verdict, bar, measured value with interval, and the attack it comes from."""
    bar = check.bar
    level = f"{100.0 * check.confidence:.4g}%"
    ci = "no interval" if check.ci is None else None
    if bar.metric == "auc":
        ci = ci or f"CI {check.ci[0]:.3f}–{check.ci[1]:.3f}"
        measured = f"AUC {check.value:.3f} ({level} {ci})"
        if math.isnan(check.value) or (check.compare == "upper" and math.isnan(check.compared)):
            measured += f", {_NOT_A_NUMBER}"
    elif bar.metric == "tpr_at_fpr":
        ci = ci or f"CI {100.0 * check.ci[0]:.3g}–{100.0 * check.ci[1]:.3g}%"
        measured = f"TPR {100.0 * check.value:.3g}% ({level} {ci}) at {_fpr_text(bar.fpr)} FPR, {check.detail}"
    else:
        measured = f"ε lower bound {check.value:.2f} ({check.detail}, {level} confidence)"
    if check.compare == "upper":
        measured += f"; upper end {check.compared:.3g} compared"
    verdict = "EXCEEDED" if check.exceeded else "ok"
    return f"{verdict:<8} {bar.describe()} [{_OPTION[bar.metric]}]: {measured} — {check.target}/{check.attack}"
