"""The ``sweep.json`` document: one row per setting, built from the settings' saved results.

Pure functions of the saved ``result.json`` documents (each holding its
audit's ``report.json`` figures), so a resumed sweep and a fresh one write
the same rows. The layout is documented in ``docs/report-schema.md``
("Sweep files").
"""

from __future__ import annotations

import math

import numpy as np

from privaudit.report.json_report import strict_json_value
from privaudit.sweep.frontier import pareto_front

__all__ = ["SWEEP_SCHEMA_VERSION", "setting_row", "sweep_document"]

SWEEP_SCHEMA_VERSION = "1.0"


def _attack_entry(result: dict) -> dict:
    eps = result.get("epsilon_lower_bound")
    return {
        "attack": result["attack"],
        "signal": result.get("signal"),
        "auc": result["auc"],
        "auc_ci": result["auc_ci"],
        "advantage": result.get("advantage"),
        "tpr_at_fpr": {
            key: {"tpr": op["tpr"], "ci": op["ci"], "fpr_realised": op["fpr_realised"], "supported": op["supported"]}
            for key, op in result["tpr_at_fpr"].items()
        },
        "epsilon_lb": None if eps is None else {"value": eps["epsilon_lb"], "label": eps["label"], "valid": eps["valid"], "method": eps["method"]},
    }


def _worst_case(attacks: list[dict], fpr_key: str) -> dict:
    """The highest TPR at the frontier FPR and the highest ε lower bound over the attacks (first attack on ties)."""
    tpr_pool = [a for a in attacks if fpr_key in a["tpr_at_fpr"]]
    worst_tpr = max(tpr_pool, key=lambda a: a["tpr_at_fpr"][fpr_key]["tpr"], default=None)
    eps_pool = [a for a in attacks if a["epsilon_lb"] is not None and a["epsilon_lb"]["value"] is not None]
    worst_eps = max(eps_pool, key=lambda a: a["epsilon_lb"]["value"], default=None)
    return {
        "tpr_at_fpr": None if worst_tpr is None else {"attack": worst_tpr["attack"], "fpr": float(fpr_key), **worst_tpr["tpr_at_fpr"][fpr_key]},
        "epsilon_lb": None if worst_eps is None else {"attack": worst_eps["attack"], **worst_eps["epsilon_lb"]},
    }


def setting_row(saved: dict, fpr_key: str, *, resumed: bool = False) -> dict:
    """One ``settings[]`` row of ``sweep.json`` from a setting's saved ``result.json``.

    ``fpr_key`` is the frontier FPR as ``report.json`` keys it (``format(fpr, "g")``).
    """
    audit = saved["audit"]
    target = audit["targets"][0]
    attacks = [_attack_entry(r) for r in audit["results"]]
    best = max(attacks, key=lambda a: a["auc"]) if attacks else None  # the first of equals, as AuditResult.best
    trained = saved["trained"]
    return {
        "name": saved["name"],
        "defence": saved["description"],
        "setting": saved["setting"],
        "output_kind": target["output_kind"],
        "test_accuracy": target["accuracy_nonmembers"],
        "train_accuracy": target["accuracy_members"],
        "epochs_run": trained["epochs_run"],
        "dp": trained["dp"],
        "best": best,
        "worst_case": _worst_case(attacks, fpr_key),
        "attacks": attacks,
        "attacks_skipped": saved.get("attacks_skipped", []),
        "reference": audit["run"]["reference"].get(saved["name"]),
        "durations": saved["durations"],
        "training_reused_from": trained.get("reused_from"),
        "resumed": bool(resumed),
        "fingerprint": saved["fingerprint"],
        "finished_at": saved.get("finished_at"),
    }


def _notes(rows: list[dict], data: dict, fpr: float, confidence: float, delta: float, min_expected: int) -> list[str]:
    from privaudit.report.formatting import confidence_label, epsilon_note, fpr_label

    notes = [
        "Test accuracy is measured on the non-members (the held-out test set), train accuracy on the members, "
        "both on the answers the target releases (after any output defence).",
        f"The frontier plots use each setting's worst case over its attacks: the highest TPR at {fpr_label(fpr)} FPR and the highest "
        "ε lower bound (the `best` attack is the one with the highest AUC). A point is on the Pareto frontier when no other setting "
        "has at least its test accuracy and at most its leakage, one of them strictly.",
        f"Intervals are {confidence_label(confidence)} intervals: bootstrap for the AUC, Clopper–Pearson for TPRs.",
    ]
    if data["n_nonmembers"] * fpr < min_expected:
        notes.append(f"TPR at {fpr_label(fpr)} FPR is not supported by {data['n_nonmembers']:,} non-members (fewer than {min_expected} "
                     "expected false positives): those points are drawn hollow and should not be read as measurements.")
    entries = [a["epsilon_lb"] for r in rows for a in r["attacks"] if a["epsilon_lb"] is not None]
    if entries:
        notes.append(epsilon_note(entries[0]["valid"], delta, confidence))
    if any(r["dp"] for r in rows):
        valid = bool(entries) and all(e["valid"] for e in entries)
        notes.append("DP ε is the privacy accountant's ε after every step the DP-SGD run took (an upper bound, for the members; "
                     "records used for early stopping are not covered). "
                     + ("An ε lower bound above it would mean a bug in training or accounting." if valid else
                        "The ε figures beside it are heuristic estimates (membership was not randomised), and the frontier takes the "
                        "highest over several attacks without correction: one above the DP ε is not proof of a bug in training or "
                        "accounting, though a large gap is worth checking with a randomised audit."))
    return notes


def sweep_document(config: dict, config_hash: str, saved: list[dict], *, resumed: set, data: dict, run: dict) -> dict:
    """The whole ``sweep.json`` (strict JSON values), rows in config order, Pareto flags filled in."""
    from privaudit.metrics import MIN_EXPECTED_FALSE_POSITIVES

    fpr = float(config["frontier_fpr"])
    fpr_key = format(fpr, "g")
    rows = [setting_row(s, fpr_key, resumed=s["name"] in resumed) for s in saved]
    accuracy = np.array([r["test_accuracy"] if r["test_accuracy"] is not None else np.nan for r in rows], dtype=np.float64)

    def leakage(pick) -> np.ndarray:
        values = [pick(r["worst_case"]) for r in rows]
        return np.array([np.nan if v is None or not math.isfinite(v) else v for v in values], dtype=np.float64)

    tpr = leakage(lambda w: None if w["tpr_at_fpr"] is None else w["tpr_at_fpr"]["tpr"])
    eps = leakage(lambda w: None if w["epsilon_lb"] is None else w["epsilon_lb"]["value"])
    on_tpr, on_eps = pareto_front(accuracy, tpr), pareto_front(accuracy, eps)
    for row, a, b in zip(rows, on_tpr, on_eps):
        row["on_frontier"] = {"tpr_at_fpr": bool(a), "epsilon_lb": bool(b)}
    metrics = config["metrics"]
    document = {
        "schema_version": SWEEP_SCHEMA_VERSION,
        "kind": "privaudit sweep",
        "run": {**run, "config_hash": config_hash, "config": config},
        "data": data,
        "metrics": {"fprs": metrics["fprs"], "frontier_fpr": fpr, "confidence": metrics["confidence"], "delta": metrics["delta"],
                    "bootstrap": metrics["bootstrap"], "min_expected_false_positives": MIN_EXPECTED_FALSE_POSITIVES},
        "settings": rows,
        "notes": _notes(rows, data, fpr, metrics["confidence"], metrics["delta"], MIN_EXPECTED_FALSE_POSITIVES),
    }
    return strict_json_value(document)
