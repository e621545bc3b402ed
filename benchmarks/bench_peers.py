"""privaudit side by side with IBM ART 1.20 on the same targets, splits and evaluation records (issue 17, scope 1).

One command (install the peers first: ``pip install -e '.[bench]'``)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_peers.py --adult-dir A --image-dir I --json run1.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_peers.py --adult-dir A --image-dir I --json run2.json --compare run1.json --write BENCHMARKS.md

ML Privacy Meter's rows need ``--privacy-meter-python PY``, the python of a separate venv (it imports tensorflow and opacus;
built here with ``python3.11 -m venv pmvenv && pmvenv/bin/pip install torch==2.13.0 privacy-meter==1.0.1 tensorflow-cpu opacus
pandas seaborn jinja2 pillow matplotlib scikit-learn``, torch from its CPU wheel).

``A`` / ``I``: a finished ``privaudit demo --out A`` / ``privaudit demo --images --out I`` (trained there when the folder has
no config.yaml; their reference-model stores are reused, and the label-only replay writes into the Adult one: use copies).

Protocol (the same for every row, :mod:`peer_protocol`):

* **Targets**: the Adult demo's ``overfit_mlp`` and the image demo's ``cnn`` — the very torch modules privaudit audits,
  wrapped in ART's ``PyTorchClassifier`` for ART (its ``predict`` counts the rows it is asked about: target queries).
* **Labelled split**: a seeded draw of ``--train-each`` members and as many non-members is given to the attacks that
  need labelled members (ART's ``MembershipInferenceBlackBox``; the calibration of ART's boundary threshold τ).
* **Evaluation records**: the rest of the members and non-members. Every row — privaudit's too — is scored on them
  only. privaudit audits the demo's records as the demo does (same reference models, no retraining), and its scores
  are evaluated on the evaluation records.
* **HopSkipJump subsample**: ART's decision-boundary attack is expensive; it runs on a seeded subsample of
  ``--hsj-each`` evaluation members and non-members, and every row is also reported on that subsample.
* Metrics: :func:`privaudit.metrics.evaluate_scores` (AUC with a stratified bootstrap 95 % CI, TPR at 1 % and 0.1 %
  FPR with Clopper–Pearson 95 % CIs), the same for every tool. Seeds: numpy's global generator and torch's are reset
  before each ART attack (ART's attack models and HopSkipJump draw from them); privaudit takes ``--seed``.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from _sections import check_section_markers, cpu_line, refuse_existing, replace_section  # noqa: E402  (benchmarks/ is the script folder)
from peer_protocol import QueryCounter, attack_training_split, positions_in, subsample  # noqa: E402

BEGIN = "<!-- peers: written by benchmarks/bench_peers.py; edits between these markers are replaced -->"
END = "<!-- /peers -->"
FPRS = (0.01, 0.001)
#: HopSkipJump budget: ART's defaults (init_eval 100, init_size 100) with fewer iterations and evaluations per step
HSJ = {"norm": 2, "max_iter": 10, "max_eval": 1000, "init_eval": 100, "init_size": 100, "verbose": False}
N_SHADOW = 3  # ART's ShadowModels default and its notebook's
TARGETS = {"adult": "overfit_mlp", "images": "cnn"}

NOTES = [
    "How each peer was run (`benchmarks/peer_art.py`, `benchmarks/peer_privacy_meter.py`):", "",
    "- **ART** wraps the same torch module privaudit audits in `PyTorchClassifier` (logits out, `clip_values=(0, 1)`); before "
    "the attacks the script checks that it answers exactly as privaudit's target does on 500 evaluation records. "
    "`MembershipInferenceBlackBox` is fitted on the labelled split (`fit(x_members, y, x_nonmembers, y)`, ART's README) with its "
    "default `rf` and `nn` attack models; the score is `infer(..., probabilities=True)`. `ShadowModels` trains 3 shadow models "
    "(ART's default; `disjoint_datasets=True`, half of each shadow set IN) with ART's own `fit` and the target's recipe (epochs, batch "
    "size, Adam learning rate; no augmentation — the image target trained with mirrors and shifts), on population records; the "
    "shadow predictions train an `rf` black-box attack (ART's shadow-model notebook). `LabelOnlyGapAttack` scores 1 for a correctly "
    "labelled record, 0 otherwise. `LabelOnlyDecisionBoundary`: τ from `calibrate_distance_threshold` on labelled records, and as "
    "score the HopSkipJump L2 distance `infer` thresholds (0 for misclassified records), computed as `infer` computes it; "
    "HopSkipJump at ART's defaults except `max_iter` 10 (default 50) and `max_eval` 1,000 (default 10,000), to fit the machine.",
    "- **ML Privacy Meter 1.0.1** (PyPI) imports tensorflow and opacus at import time and declares no requirements; it ran in a "
    "separate venv (Python 3.11, torch 2.13 CPU, tensorflow-cpu 2.21, opacus 1.6). Its `PopulationMetric` (attack P of Ye et al. "
    "2022: the target's loss against quantiles of its loss on the population records) ran through the library's own `Dataset`, "
    "`InformationSource`, `PytorchModelTensor` and `ModelLoss`; the score is minus the loss signal it thresholds. Its "
    "`ReferenceMetric` and `ShadowMetric` need reference or shadow models trained by the user outside the library and were not run.",
    "- **privaudit**: `privaudit.audit` on the demo's own audited records and reference models (so nothing is retrained), each "
    "attack in its own audit (its own wall time and query count), scores then evaluated on the rows' records. The online rows on "
    "Adult use new online reference models (the demo's are offline), trained like the target into the demo folder's store.",
    "- Every row's AUC interval is privaudit's stratified bootstrap, its TPR intervals Clopper–Pearson, all from the same function "
    "on the same records; ties are not broken (a score with many equal values, such as the gap attack's 0/1 or a random "
    "forest's vote fractions, cannot reach a low FPR except at 0 TPR).",
]


def say(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


def check_demo_folder(kind: str, folder: Path) -> None:
    """SystemExit (one line) unless ``folder`` is a demo folder (``config.yaml``), or new or empty (the demo is trained there)."""
    option = {"adult": "--adult-dir", "images": "--image-dir"}[kind]
    if folder.exists() and not folder.is_dir():
        raise SystemExit(f"{option} {folder}: not a folder; give a `privaudit demo --out` folder, or a new one to train the demo in")
    if folder.is_dir() and not (folder / "config.yaml").is_file() and any(folder.iterdir()):
        raise SystemExit(f"{option} {folder}: not a privaudit demo folder (no config.yaml) and not empty, so the demo is not trained "
                         "there; give a `privaudit demo --out` folder, or a new or empty one")


def load(kind: str, folder: Path, seed: int):
    """The demo's config, data, target and reference plan (the demo is trained into ``folder`` when it has no config)."""
    from privaudit.config import load_config
    from privaudit.data import load_audit_data
    from privaudit.reference.plan import plans_from_config
    from privaudit.targets import load_target

    if not (folder / "config.yaml").is_file():
        say(f"training the {kind} demo into {folder} …")
        if kind == "adult":
            from privaudit.demo import prepare_demo

            prepare_demo(folder, seed=seed, progress=say)
        else:
            from privaudit.image_demo import run_image_demo

            run_image_demo(folder, seed=seed, progress=say)
    config, base = load_config(folder / "config.yaml")
    d = config.data
    data = load_audit_data(base / d.path, label=d.label, id_column=d.id_column, features=d.features,
                           membership_column=d.membership.column, classes=d.classes)
    spec = next((t for t in config.targets if t.name == TARGETS[kind]), None)
    if spec is None:
        raise SystemExit(f"{folder / 'config.yaml'}: no target named {TARGETS[kind]!r}, so this is not the {kind} demo's folder; "
                         "give a `privaudit demo --out` folder (or `--images` for the image demo), or a new one")
    target = load_target(spec.model_dump(), base, spec.name)
    return config, data, spec, target, plans_from_config(config, base, data=data)[spec.name]


def encode(target, records) -> np.ndarray:
    """The float32 inputs the torch module takes (the target's fitted transform, or the pixels)."""
    features = records.features
    array = target.transform.transform(features) if target.transform is not None else features.to_numpy()
    return np.require(np.asarray(array, dtype=np.float32), requirements=["C", "W"])


def metrics(scores, is_member, seed: int, n_bootstrap: int) -> dict:
    from privaudit.metrics import evaluate_scores

    m = evaluate_scores(np.asarray(scores, dtype=float), np.asarray(is_member, bool), fprs=FPRS, n_bootstrap=n_bootstrap, seed=seed, delta=None)
    out = {"auc": m.auc, "auc_ci": list(m.auc_ci), "n_members": int(np.sum(is_member)), "n_nonmembers": int(np.sum(~np.asarray(is_member, bool)))}
    for fpr in FPRS:
        op = m.operating_points[fpr]
        out[str(fpr)] = {"tpr": op.tpr, "ci": list(op.ci)}
    return out


def part(members, nonmembers) -> tuple[np.ndarray, np.ndarray]:
    """An evaluation part: positions (members first) and their membership."""
    members, nonmembers = np.asarray(members), np.asarray(nonmembers)
    return np.concatenate([members, nonmembers]), np.concatenate([np.ones(members.size, bool), np.zeros(nonmembers.size, bool)])


def score_parts(scores, scored_positions, parts: dict, args) -> dict:
    """Metrics of ``scores`` (one per ``scored_positions``) on every part whose records were all scored; None for the others."""
    scores, scored_positions = np.asarray(scores, dtype=float), np.asarray(scored_positions)
    out = {}
    for name, (positions, is_member) in parts.items():
        inside = np.isin(positions, scored_positions).all()
        out[name] = metrics(scores[positions_in(scored_positions, positions)], is_member, args.seed, args.bootstrap) if inside else None
    return out


def privaudit_rows(kind, data, spec, target, plan, parts, sub, args) -> list[dict]:
    """privaudit's attacks through its public API on the demo's audit, evaluated on the evaluation records (and the subsample)."""
    import privaudit
    from privaudit.data import AuditData
    from privaudit.targets import load_target

    online = plan.mode == "online"
    specs = [("LOSS", "loss", "probabilities, 1 query", "none")]
    for mode in (("online", "offline") if online else ("offline",)):
        models = f"{plan.n_models} reference models ({mode}{', IN/OUT of the audited records' if mode == 'online' else ', population records only'})"
        specs.append((f"LiRA {mode}", {"name": "lira", "mode": mode}, f"probabilities, 1 query per record; {models}", "none"))
        specs.append((f"RMIA {mode}", {"name": "rmia", "mode": mode}, f"probabilities, 1 query per record and per population record (z); {models}", "none"))
    rows = []
    for label, attack, access, labelled in specs:  # one audit per attack: its own wall time and query count
        say(f"{kind}: privaudit {label} on the demo's {data.audited.size:,} audited records …")
        started = time.perf_counter()
        result = privaudit.audit(data, [target], [attack], reference=plan, n_bootstrap=10, seed=args.seed)
        r = result.results[0]
        rows.append({"tool": "privaudit", "attack": f"{label} (`{r.attack}`)", "access": access, "labelled": labelled,
                     "queries_per_record": result.targets[0].queries.total / data.audited.size, "seconds": time.perf_counter() - started,
                     "seconds_note": "", **score_parts(r.scores, data.audited, parts, args)})
    if kind == "adult":  # the label-only flip distance, on the subsample (the HopSkipJump rows' records)
        labels_only = load_target({**spec.model_dump(), "output_defence": {"labels_only": True}}, Path(args.adult_dir), spec.name)
        small = AuditData(data.records, sub[0], sub[1], data.population, source=data.source)
        flip = {"name": "label_only_flip_calibrated", "queries_per_record": 199, "reference_orders": 4}
        say(f"{kind}: privaudit label_only_flip_calibrated on the {small.audited.size} subsample records …")
        started = time.perf_counter()
        res = privaudit.audit(small, [labels_only], [flip], reference=plan, n_bootstrap=10, seed=args.seed)
        q = res.targets[0].queries
        rows.append({"tool": "privaudit", "attack": f"flip distance, calibrated (`{res.results[0].attack}`)",
                     "access": f"labels only, ≤ 200 queries per record; {plan.n_models} reference models (population records only)", "labelled": "none",
                     "queries_per_record": q.total / small.audited.size, "seconds": time.perf_counter() - started, "seconds_note": "",
                     **score_parts(res.results[0].scores, small.audited, parts, args)})
    if kind == "adult" and args.online_models:
        rows += online_rows(data, target, plan, parts, args)
    return rows


def online_rows(data, target, plan, parts, args) -> list[dict]:
    """Online LiRA and RMIA on the Adult target: reference models trained IN and OUT of the "online" part's records.

    The demo's reference models are offline (population records only); as ``bench_power.py``'s online part, a new
    online design puts each of the part's records IN half of ``--online-models`` models trained like the target
    (1,000 records each, the target's recipe), stored in the demo folder's store (a rerun reuses them).
    """
    from dataclasses import replace

    import privaudit
    from privaudit.data import AuditData

    positions, is_member = parts["online"]
    small = AuditData(data.records, np.sort(positions[is_member]), np.sort(positions[~is_member]), data.population, source=data.source)
    online = replace(plan, n_models=args.online_models, mode="online", train_size=data.members.size, include_population=False, backend="ensemble", n_jobs=1)
    models = f"{args.online_models} reference models (online: each scored record IN half of them)"
    rows = []
    for label, attack, access in (("LiRA online", {"name": "lira", "mode": "online"}, f"probabilities, 1 query per record; {models}"),
                                  ("RMIA online", {"name": "rmia", "mode": "online"}, f"probabilities, 1 query per record and per population record (z); {models}")):
        say(f"adult: privaudit {label} on the {small.audited.size:,} records of the online part ({args.online_models} models) …")
        started = time.perf_counter()
        result = privaudit.audit(small, [target], [attack], reference=online, n_bootstrap=10, seed=args.seed)
        r = result.results[0]
        info = result.reference.get(target.name) or {}
        rows.append({"tool": "privaudit", "attack": f"{label} (`{r.attack}`)", "access": access, "labelled": "none",
                     "queries_per_record": result.targets[0].queries.total / small.audited.size, "seconds": time.perf_counter() - started,
                     "seconds_note": "" if not info.get("trained") else f"trained {info['trained']} models",
                     **score_parts(r.scores, small.audited, parts, args)})
    return rows


def art_rows(kind, data, spec, target, split, parts, sub, args) -> list[dict]:
    """ART's attacks around the same torch module (:mod:`peer_art`); queries per record = target rows the attack asked for
    (its training or calibration included) over the records it scored."""
    import peer_art

    peer_art.require_art()
    recipe = spec.reference.training  # the target's recipe (the demo writes it into the reference block)
    x_all, y_all = encode(target, data.records), np.asarray(data.records.labels)
    n_inputs, n_classes = x_all.shape[1], len(data.records.classes)
    counter = QueryCounter()
    like_target = {"epochs": recipe.epochs, "batch_size": recipe.batch_size, "learning_rate": recipe.learning_rate}
    classifier = peer_art.art_classifier(target.module, n_inputs, n_classes, counter=counter, **like_target)
    ev, sub_pos = split.evaluation, np.concatenate(sub)
    check = ev[:: max(1, ev.size // 500)]  # ART must see what privaudit sees: the same outputs for the same records
    classifier.counter = None
    gap_to_privaudit = float(np.max(np.abs(classifier.predict(x_all[check]) - target.predict(data.records.subset(check)))))
    classifier.counter = counter
    if gap_to_privaudit > 1e-4:
        raise SystemExit(f"{kind}: ART's wrapper answers differently from privaudit's target (max |Δ logit| {gap_to_privaudit:.2g})")
    tm, tn = split.train_members, split.train_nonmembers
    rows = []

    def run(label, access, labelled, scorer, note=""):
        say(f"{kind}: ART {label} …")
        before, started = counter.rows, time.perf_counter()
        scores = np.asarray(scorer(), dtype=float)
        seconds = time.perf_counter() - started
        row = {"tool": "ART 1.20.1", "attack": label, "access": access, "labelled": labelled, "seconds": seconds, "seconds_note": note,
               "queries_total": counter.since(before), "queries_per_record": counter.since(before) / scores.size}
        row.update(score_parts(scores, ev if scores.size == ev.size else sub_pos, parts, args))
        rows.append(row)
        say(f"  AUC {(row['eval'] or row['subsample'])['auc']:.3f}, {seconds:.0f} s, {row['queries_per_record']:.1f} queries per record")

    labelled = f"{tm.size:,} members + {tn.size:,} non-members"
    for model in ("rf", "nn"):
        run(f"MembershipInferenceBlackBox ({model})", "probabilities (logits)", labelled,
            lambda model=model: peer_art.black_box(classifier, model, x_all[tm], y_all[tm], x_all[tn], y_all[tn], x_all[ev], y_all[ev], args.seed))
    pop = np.sort(np.random.default_rng([args.seed, 19]).choice(data.population, min(data.population.size, 2 * N_SHADOW * data.members.size), replace=False))
    template = peer_art.art_classifier(copy.deepcopy(target.module), n_inputs, n_classes, **like_target)
    run(f"ShadowModels ({N_SHADOW}) + MembershipInferenceBlackBox (rf)",
        f"probabilities (logits); {N_SHADOW} shadow models trained like the target, {pop.size // (2 * N_SHADOW):,} population records each", "none",
        lambda: peer_art.shadow_black_box(classifier, template, x_all[pop], y_all[pop], N_SHADOW, x_all[ev], y_all[ev], args.seed))
    run("LabelOnlyGapAttack", "labels only", "none", lambda: peer_art.gap(classifier, x_all[ev], y_all[ev]))
    cal = subsample(tm, tn, max(1, args.hsj_each // 2), args.seed)
    taus = []

    def boundary():
        distance, tau = peer_art.boundary_distance(classifier, x_all[cal[0]], y_all[cal[0]], x_all[cal[1]], y_all[cal[1]],
                                                   x_all[sub_pos], y_all[sub_pos], HSJ, args.seed)
        taus.append(tau)
        return distance

    run(f"LabelOnlyDecisionBoundary (HopSkipJump distance; max_iter {HSJ['max_iter']}, max_eval {HSJ['max_eval']})", "labels only",
        f"τ calibrated on {cal[0].size} members + {cal[1].size} non-members", boundary, "τ's calibration included")
    rows[-1]["tau"] = taus[-1]
    return rows


def privacy_meter_rows(kind, data, target, split, parts, args) -> list[dict]:
    """ML Privacy Meter 1.0.1's population attack, in its own venv (:mod:`peer_privacy_meter`), on the evaluation records."""
    import subprocess
    import tempfile

    import torch

    x_all, y_all = encode(target, data.records), np.asarray(data.records.labels, dtype=np.int64)
    say(f"{kind}: ML Privacy Meter PopulationMetric (in {args.privacy_meter_python}) …")
    with tempfile.TemporaryDirectory() as scratch:
        arrays, module, out = (Path(scratch) / name for name in ("arrays.npz", "module.pt", "out.json"))
        m, n, pop = split.eval_members, split.eval_nonmembers, data.population
        np.savez(arrays, x_members=x_all[m], y_members=y_all[m], x_nonmembers=x_all[n], y_nonmembers=y_all[n], x_population=x_all[pop], y_population=y_all[pop])
        torch.save(target.module, module)
        started = time.perf_counter()
        done = subprocess.run([str(args.privacy_meter_python), str(Path(__file__).with_name("peer_privacy_meter.py")), str(arrays), str(module), str(out)],
                              capture_output=True, text=True, env={"OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"privacy-meter run failed ({args.privacy_meter_python}): {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
        got = json.loads(out.read_text(encoding="utf-8"))
    scores = np.asarray(got["scores"], dtype=float)
    if not np.array_equal(np.asarray(got["true_labels"], bool), split.evaluation_is_member):
        raise SystemExit("privacy-meter returned its records in another order than the evaluation records")
    row = {"tool": "ML Privacy Meter 1.0.1", "attack": "PopulationMetric (loss vs population-loss quantiles)",
           "access": "loss (probabilities + label), 1 query; population records' losses", "labelled": "none",
           "queries_per_record": got["queries"] / scores.size, "seconds": seconds, "seconds_note": "",
           **score_parts(scores, split.evaluation, parts, args),
           "seconds_inside": got["seconds"]}
    say(f"  AUC {row['eval']['auc']:.3f}, {seconds:.0f} s")
    return [row]


def _auc(m) -> str:
    return f"{m['auc']:.3f} [{m['auc_ci'][0]:.3f}, {m['auc_ci'][1]:.3f}]"


def _tpr(m, fpr) -> str:
    """The TPR cell; † where fewer than MIN_EXPECTED_FALSE_POSITIVES non-members are expected above the threshold (the FPR is not pinned down)."""
    from privaudit.metrics import MIN_EXPECTED_FALSE_POSITIVES

    op = m[str(fpr)]
    dagger = " †" if m["n_nonmembers"] * fpr < MIN_EXPECTED_FALSE_POSITIVES else ""
    return f"{100 * op['tpr']:.1f} % [{100 * op['ci'][0]:.1f}, {100 * op['ci'][1]:.1f}]{dagger}"


UNSUPPORTED_NOTE = ("† fewer than 10 false positives expected at this FPR (non-members × FPR < 10): the TPR's interval does not "
                    "include the FPR's own uncertainty there (privaudit's reports mark such points unsupported); read the AUC or the 1 % column.")


def _table(rows, part: str) -> list[str]:
    lines = ["| tool | attack | outputs / models it needs | labelled members it needs | n members / non-members | AUC [95 % CI] | "
             "TPR @ 1 % FPR [95 % CI] | TPR @ 0.1 % FPR [95 % CI] | target queries / record | wall s |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        m = r.get(part)
        if m is None:
            continue
        note = f" ({r['seconds_note']})" if r["seconds_note"] else ""
        lines.append(f"| {r['tool']} | {r['attack']} | {r['access']} | {r['labelled']} | {m['n_members']:,} / {m['n_nonmembers']:,} | {_auc(m)} | "
                     f"{_tpr(m, 0.01)} | {_tpr(m, 0.001)} | {r['queries_per_record']:,.1f} | {r['seconds']:.0f}{note} |")
    return lines


def render(run: dict) -> str:
    lines = [BEGIN, "## Peer benchmark: privaudit and IBM ART 1.20 on the same targets and records (`benchmarks/bench_peers.py`)", "",
             f"Measured {run['when']} UTC with one command, run twice, the second time with `--compare` (seed {run['seed']}, one torch thread, "
             f"{run['bootstrap']} bootstrap resamples):", "",
             "```", "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_peers.py --adult-dir A --image-dir I --privacy-meter-python pmvenv/bin/python \\",
             "    --json run2.json --compare run1.json --write BENCHMARKS.md", "```", "",
             run["cpu"], f"- load average at the end: {run['load_end']}; Python {run['python']}, numpy {run['numpy']}, torch {run['torch']}, "
             f"ART {run['art']}; whole run {run['minutes']:.1f} min", ""]
    for target_run in run["targets"].values():
        lines += [f"### {target_run['title']}", "", target_run["protocol"], "", "**Evaluation records** (every row scored on the same held-out records):", ""]
        lines += _table(target_run["rows"], "eval")
        if target_run.get("online"):
            lines += ["", f"**Online part** ({target_run['online']}; every row re-evaluated on these records):", ""]
            lines += _table(target_run["rows"], "online")
        lines += ["", f"**HopSkipJump subsample** ({target_run['subsample']}; every row re-evaluated on these records):", ""]
        lines += _table(target_run["rows"], "subsample")
        lines += ["", UNSUPPORTED_NOTE]
        lines += ["", f"ART's calibrated τ = {target_run['rows'][-1].get('tau', float('nan')):.4g}. "
                  "Target queries / record: rows the target was asked about by the attack (its training, calibration and population queries included) over the records it scored.", ""]
    lines += run["notes"] + ["", run.get("reproduced", "Reproducibility: not checked in this run (`--compare` an earlier run's `--json`)."), END]
    return "\n".join(lines)


def compare(current: dict, earlier: dict) -> list[str]:
    """Differences in the figures (not the wall times) between two runs' JSON; empty when they reproduce exactly."""
    diffs = []
    for kind, part in current["targets"].items():
        before = {r["attack"]: r for r in earlier["targets"].get(kind, {}).get("rows", [])}
        for r in part["rows"]:
            old = before.get(r["attack"])
            for key in ("eval", "online", "subsample", "queries_per_record"):
                if old is None or old.get(key) != r.get(key):
                    diffs.append(f"{kind} / {r['attack']} / {key}: {None if old is None else old.get(key)} → {r.get(key)}")
    return diffs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adult-dir", type=Path, required=True, help="a `privaudit demo --out` folder (trained there if empty)")
    parser.add_argument("--image-dir", type=Path, default=None, help="a `privaudit demo --images --out` folder (trained there if empty); omit to skip images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-each", type=int, default=500, help="labelled members (and as many non-members) given to ART's black-box attack")
    parser.add_argument("--hsj-each", type=int, default=200, help="evaluation members (and as many non-members) scored by HopSkipJump")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--online-models", type=int, default=16, help="Adult: online reference models for privaudit's online rows (0: none)")
    parser.add_argument("--online-nonmembers", type=int, default=1500, help="Adult: evaluation non-members in the online part")
    parser.add_argument("--privacy-meter-python", type=Path, default=None,
                        help="python of a venv with privacy-meter==1.0.1 (tensorflow-cpu, opacus, torch): adds its population-attack rows")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--compare", type=Path, default=None, help="an earlier run's --json: report whether every figure reproduces")
    parser.add_argument("--write", type=Path, default=None, help="replace the peers section of this file (BENCHMARKS.md)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    args = parser.parse_args(argv)
    refuse_existing(args.json, "--json", args.overwrite)  # before the run: never replace the user's file unasked
    if args.write:
        check_section_markers(args.write, BEGIN, END)
    for kind, folder in (("adult", args.adult_dir), ("images", args.image_dir)):
        if folder is not None:
            check_demo_folder(kind, Path(folder))
    import peer_art
    import torch

    peer_art.require_art()
    torch.set_num_threads(1)
    import art

    clock = time.perf_counter()
    run = {"when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), "seed": args.seed, "bootstrap": args.bootstrap,
           "cpu": cpu_line(), "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__, "art": art.__version__,
           "targets": {}, "notes": NOTES}
    folders = {"adult": args.adult_dir, "images": args.image_dir}
    for kind, folder in folders.items():
        if folder is None:
            continue
        config, data, spec, target, plan = load(kind, Path(folder), args.seed)
        split = attack_training_split(data.members, data.nonmembers, args.train_each, args.seed)
        sub = subsample(split.eval_members, split.eval_nonmembers, args.hsj_each, args.seed)
        parts = {"eval": part(split.eval_members, split.eval_nonmembers), "subsample": part(*sub)}
        if kind == "adult" and args.online_models:  # all evaluation members, a seeded sample of the non-members
            parts["online"] = part(*subsample(split.eval_members, split.eval_nonmembers, args.online_nonmembers, args.seed + 1))
        rows = privaudit_rows(kind, data, spec, target, plan, parts, sub, args)
        if args.privacy_meter_python is not None:
            rows += privacy_meter_rows(kind, data, target, split, parts, args)
        rows += art_rows(kind, data, spec, target, split, parts, sub, args)
        title = {"adult": "Adult demo, `overfit_mlp` (2 × 512 MLP", "images": "Image demo, `cnn` (Fashion-MNIST CNN"}[kind] + f", {data.members.size:,} members)"
        protocol = (f"{data.members.size:,} members, {data.nonmembers.size:,} non-members, {data.population.size:,} population records. Labelled split "
                    f"(seeded): {split.train_members.size:,} members + {split.train_nonmembers.size:,} non-members, given only to the attacks that "
                    f"say so; evaluation: the other {split.eval_members.size:,} members and {split.eval_nonmembers.size:,} non-members. privaudit's "
                    f"reference models: the demo's {plan.n_models} ({plan.mode}), reused from its store.")
        run["targets"][kind] = {"title": title, "protocol": protocol, "rows": rows,
                                "subsample": f"{sub[0].size} members + {sub[1].size} non-members of the evaluation records, seeded"}
        if "online" in parts:
            n_on = parts["online"][1]
            run["targets"][kind]["online"] = (f"{n_on.sum():,} members + {(~n_on).sum():,} non-members of the evaluation records (seeded), "
                                              f"each IN half of {args.online_models} new online reference models")
    run["minutes"] = (time.perf_counter() - clock) / 60
    import os

    run["load_end"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.compare:
        earlier = json.loads(args.compare.read_text(encoding="utf-8"))
        diffs = compare(run, earlier)
        run["reproduced"] = (f"Reproducibility: a second run of the same command ({run['when']} UTC) against the first ({earlier['when']} UTC): "
                             + ("**every figure equal** (AUC, intervals, TPRs, queries; only wall times differ)." if not diffs else
                                f"**{len(diffs)} figures differ**: " + "; ".join(diffs[:10])))
        print(run["reproduced"], file=sys.stderr)
    text = render(run)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(run, indent=1, default=float), encoding="utf-8")
    if args.write:
        replace_section(args.write, text, BEGIN, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
