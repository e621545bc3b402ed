"""Time privaudit's signals and metrics against plain-numpy / scikit-learn baselines.

Run from the repository root::

    .venv/bin/python benchmarks/bench_signals_metrics.py                              # ~1 min
    .venv/bin/python benchmarks/bench_signals_metrics.py --demo --write BENCHMARKS.md  # + demo, ~70 s more

Data: ``--records`` synthetic records (default 1,000,000, seeded): 10-class
logits ~ N(0, 2²) with the true class raised by 2, and by a further 0.5 for the
half that are members. Each operation runs ``--repeats`` times (default 3) and
the best ``time.perf_counter`` wall time is kept. Each baseline runs in the same
process on the same arrays, interleaved with privaudit, so the ratio
privaudit / baseline holds up when other jobs share the machine even where the
absolute seconds do not. Every pair is also checked for numerical agreement.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys
import tempfile
import time

import numpy as np
import scipy
import sklearn
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sklearn_roc_curve

from privaudit import signals
from privaudit.metrics import bootstrap_auc, evaluate_scores, roc_auc, roc_curve, tpr_at_fpr

N_CLASSES = 10
TARGET_FPRS = (0.1, 0.01, 0.001, 0.0001)


def make_logits(n_records: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(logits (n, 10) float64, labels (n,) int, is_member (n,) bool)``; members are more confident."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, N_CLASSES, n_records)
    is_member = rng.random(n_records) < 0.5
    logits = rng.normal(0.0, 2.0, (n_records, N_CLASSES))
    logits[np.arange(n_records), labels] += 2.0 + 0.5 * is_member
    return logits, labels, is_member


def best_time(function, repeats: int) -> tuple[float, object]:
    """Best wall time (s) of ``repeats`` calls, and the last call's result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


# --- baselines: the straightforward numpy a reader would write without privaudit -------------


def baseline_log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def baseline_true_class(log_probs, labels):
    return log_probs[np.arange(log_probs.shape[0]), labels]


def baseline_logit_confidence(log_probs, labels):
    p = np.exp(baseline_true_class(log_probs, labels))
    return np.log(p) - np.log(1.0 - p)


def baseline_entropy(log_probs, labels):
    return -(np.exp(log_probs) * log_probs).sum(axis=1)


def baseline_modified_entropy(log_probs, labels):
    probs = np.exp(log_probs)
    rows = np.arange(probs.shape[0])
    p_true = probs[rows, labels]
    others = probs * np.log(1.0 - probs)
    others[rows, labels] = 0.0
    return -(1.0 - p_true) * np.log(p_true) - others.sum(axis=1)


def naive_bootstrap_auc(scores, is_member, n_resamples: int, seed: int) -> np.ndarray:
    """Stratified bootstrap the plain way: resample members and non-members, call roc_auc_score."""
    rng = np.random.default_rng(seed)
    members, nonmembers = scores[is_member], scores[~is_member]
    truth = np.r_[np.ones(members.size, bool), np.zeros(nonmembers.size, bool)]
    replicates = np.empty(n_resamples)
    for b in range(n_resamples):
        resampled = np.r_[rng.choice(members, members.size), rng.choice(nonmembers, nonmembers.size)]
        replicates[b] = roc_auc_score(truth, resampled)
    return replicates


def max_difference(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


# --- the benchmark ---------------------------------------------------------------------------


def bench_signals(logits, labels, repeats: int) -> list[dict]:
    """One row per signal: privaudit function vs the numpy baseline, with the largest absolute difference."""
    rows = []
    t_ours, log_probs = best_time(lambda: signals.to_log_probabilities(logits, "logits"), repeats)
    t_base, base_log_probs = best_time(lambda: baseline_log_softmax(logits), repeats)
    rows.append(dict(op="to_log_probabilities (logits, validated)", ours=t_ours, base=t_base, diff=max_difference(log_probs, base_log_probs)))
    t_ours, _ = best_time(lambda: signals.stable_log_softmax(logits), repeats)
    rows.append(dict(op="stable_log_softmax", ours=t_ours, base=t_base, diff=rows[0]["diff"]))
    pairs = [
        ("cross_entropy_loss", signals.cross_entropy_loss, lambda lp, y: -baseline_true_class(lp, y)),
        ("true_class_confidence", signals.true_class_confidence, lambda lp, y: np.exp(baseline_true_class(lp, y))),
        ("logit_scaled_confidence", signals.logit_scaled_confidence, baseline_logit_confidence),
        ("entropy", signals.entropy, baseline_entropy),
        ("modified_entropy", signals.modified_entropy, baseline_modified_entropy),
    ]
    for name, ours, base in pairs:
        t_ours, ours_values = best_time(lambda: ours(log_probs, labels), repeats)
        t_base, base_values = best_time(lambda: base(base_log_probs, labels), repeats)
        rows.append(dict(op=name, ours=t_ours, base=t_base, diff=max_difference(ours_values, base_values)))
    return rows


def bench_metrics(scores, is_member, repeats: int, n_bootstrap: int, naive_resamples: int, seed: int) -> list[dict]:
    """ROC, AUC, TPR@FPR, bootstrap and evaluate_scores vs scikit-learn and a naive bootstrap loop."""
    rows = []
    t_ours, (fpr, tpr, thresholds) = best_time(lambda: roc_curve(scores, is_member), repeats)
    t_roc, (sk_fpr, sk_tpr, sk_thr) = best_time(lambda: sklearn_roc_curve(is_member, scores, drop_intermediate=False), repeats)
    same_shape = fpr.shape == sk_fpr.shape
    diff = max(max_difference(fpr, sk_fpr), max_difference(tpr, sk_tpr), max_difference(thresholds[1:], sk_thr[1:])) if same_shape else float("nan")
    rows.append(dict(op="roc_curve (drop_intermediate=False)", ours=t_ours, base=t_roc, diff=diff))

    t_ours, auc = best_time(lambda: roc_auc(scores, is_member), repeats)
    t_auc, sk_auc = best_time(lambda: roc_auc_score(is_member, scores), repeats)
    rows.append(dict(op="roc_auc", ours=t_ours, base=t_auc, diff=abs(auc - sk_auc)))

    t_ours, ours_values = best_time(lambda: [tpr_at_fpr(fpr, tpr, f)[0] for f in TARGET_FPRS], repeats)
    t_base, base_values = best_time(lambda: [sk_tpr[sk_fpr <= f].max() for f in TARGET_FPRS], repeats)
    rows.append(dict(op=f"tpr_at_fpr ×{len(TARGET_FPRS)} (from the curve)", ours=t_ours, base=t_base, diff=max_difference(ours_values, base_values)))

    t_boot, (_, _, replicates) = best_time(lambda: bootstrap_auc(scores, is_member, n_bootstrap=n_bootstrap, seed=seed), repeats)
    t_naive, naive = best_time(lambda: naive_bootstrap_auc(scores, is_member, naive_resamples, seed), repeats)
    per_ours, per_naive = t_boot / n_bootstrap, t_naive / naive_resamples
    # different random resamples: compare the replicate means with the point AUC, not replicate by replicate
    diff = max(abs(replicates.mean() - auc), abs(naive.mean() - auc))
    rows.append(dict(op="bootstrap AUC, per resample", ours=per_ours, base=per_naive, diff=diff, note="mean replicate vs AUC"))

    t_ours, _ = best_time(lambda: evaluate_scores(scores, is_member, n_bootstrap=n_bootstrap, seed=seed), repeats)
    t_base = t_roc + t_auc + n_bootstrap * per_naive
    rows.append(dict(op=f"evaluate_scores (n_bootstrap={n_bootstrap})", ours=t_ours, base=t_base, diff=float("nan"), note="baseline partly extrapolated"))
    return rows


def bench_demo() -> tuple[float, list[tuple[str, str, float]]]:
    """Run the demo once; return wall time and (target, best attack, AUC) per target."""
    from privaudit.demo import run_demo

    with tempfile.TemporaryDirectory() as out_dir:
        start = time.perf_counter()
        result, _ = run_demo(out_dir, seed=0)
        wall = time.perf_counter() - start
    best = [(t.name, result.best(t.name).attack, result.best(t.name).metrics.auc) for t in result.targets]
    return wall, best


def format_seconds(seconds: float) -> str:
    return f"{seconds:.3g}" if seconds >= 1e-3 else f"{seconds * 1e6:.3g} µs"


def markdown_table(rows: list[dict]) -> str:
    lines = ["| operation | privaudit s | baseline s | ratio | max abs diff |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        diff = "—" if np.isnan(row["diff"]) else f"{row['diff']:.1e}"
        if row.get("note"):
            diff += f" ({row['note']})"
        lines.append(f"| {row['op']} | {format_seconds(row['ours'])} | {format_seconds(row['base'])} | {row['ours'] / row['base']:.2f} | {diff} |")
    return "\n".join(lines)


def machine_info() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"- CPUs: {os.cpu_count()} ({platform.machine()}, {platform.platform()}); load average at start: {load}\n"
        f"- Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}"
    )


NOTES = """\
- **Ratio** = privaudit s / baseline s; below 1 means privaudit is faster. Both sides run in the same
  process, one right after the other, best of the repeats each; other jobs on the machine (it has few
  cores and tests may run alongside) slow both alike, so compare ratios rather than absolute seconds.
- **Signal baselines** are the plain numpy one would write without privaudit: log-softmax as
  `z − max − log Σ exp(z − max)`, then a fancy-index gather of the true class, `log p − log(1 − p)`,
  `−Σ p log p`, and modified entropy with `log(1 − p)` formed directly. privaudit also validates its input
  (finite values, label range) and stays exact where these baselines round off: a runner-up more than
  ~37 nats behind (loss 0 exactly), p_y → 1 in `log(1 − p)`, and exact zeros. On this synthetic data
  no record is that extreme, so both must agree to rounding (max abs diff column).
- **Metric baselines** are `sklearn.metrics.roc_curve(drop_intermediate=False)` (the curve privaudit
  returns) and `roc_auc_score`; TPR at FPR is `tpr[fpr <= f].max()` on the scikit-learn curve.
- **Bootstrap**: the baseline resamples members and non-members separately (as privaudit does) and calls
  `roc_auc_score` per resample; it runs only a few resamples and is reported per resample. Replicates
  use different random draws, so the agreement check is the replicate mean against the point AUC.
- **evaluate_scores** baseline = scikit-learn `roc_curve` + `roc_auc_score` (measured) + n_bootstrap ×
  the naive per-resample time (extrapolated). Audits use n_bootstrap = 1000 by default; the cost is linear in it.
"""


def render(args, n_records: int, signal_rows, metric_rows, demo) -> str:
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# Benchmarks: signals and metrics",
        f"Measured {now} with\n\n```\n{command}\n```",
        f"## Machine\n\n{machine_info()}",
        f"## Signals ({n_records:,} records × {N_CLASSES} classes, best of {args.repeats})\n\n{markdown_table(signal_rows)}",
        f"## Metrics ({n_records:,} scores, half members, best of {args.repeats})\n\n{markdown_table(metric_rows)}",
    ]
    if demo is not None:
        wall, best = demo
        lines = [f"`privaudit.demo.run_demo(tmpdir, seed=0)`, run once: **{wall:.1f} s** wall time.\n", "| target | best attack | AUC |", "|---|---|---:|"]
        lines += [f"| {target} | {attack} | {auc:.4f} |" for target, attack, auc in best]
        parts.append("## Demo end to end\n\n" + "\n".join(lines))
    parts.append("## Notes\n\n" + NOTES)
    return "\n\n".join(parts)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="synthetic records (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per operation; the best is kept (default 3)")
    parser.add_argument("--n-bootstrap", type=int, default=50, help="resamples for privaudit's bootstrap and evaluate_scores (default 50)")
    parser.add_argument("--naive-resamples", type=int, default=5, help="resamples for the naive bootstrap baseline (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--demo", action="store_true", help="also run the demo end to end once (~75 s)")
    parser.add_argument("--write", metavar="PATH", help="also write the report as markdown to PATH (e.g. BENCHMARKS.md)")
    args = parser.parse_args(argv)

    logits, labels, is_member = make_logits(args.records, args.seed)
    signal_rows = bench_signals(logits, labels, args.repeats)
    scores = -signals.cross_entropy_loss(signals.to_log_probabilities(logits, "logits"), labels)  # members: higher
    metric_rows = bench_metrics(scores, is_member, args.repeats, args.n_bootstrap, args.naive_resamples, args.seed)
    demo = bench_demo() if args.demo else None

    text = render(args, args.records, signal_rows, metric_rows, demo)
    print(text)
    if args.write:
        write_keeping_other_sections(args.write, text)


#: sections of BENCHMARKS.md that other scripts write; kept when this one rewrites its own part
KEPT_FROM = ("<!-- reference-models", "## Reference attacks on the Adult demo target")


def write_keeping_other_sections(path: str, text: str) -> None:
    """Write this script's report as the head of ``path``, keeping the other scripts' sections after it."""
    from pathlib import Path

    target = Path(path)
    old = target.read_text(encoding="utf-8") if target.exists() else ""
    starts = [old.find(marker) for marker in KEPT_FROM if marker in old]
    tail = old[min(starts):] if starts else ""
    target.write_text(text.rstrip("\n") + "\n" + ("\n" + tail if tail else ""), encoding="utf-8")


if __name__ == "__main__":
    main()
