"""Was this patient's record used? RAND Health Insurance Experiment, 5,908 real people.

A hospital trains a model that predicts whether a patient will be admitted to
hospital this year (``admitted``, 8.9 % of people) from their health record:
age, income, chronic-disease index, physical limitation, self-rated health,
doctor visits... This example plays both sides:

1. **The model owner** trains a random forest on 1,500 patients (members); 1,500
   other patients are held out (non-members) and the remaining 2,908 are public
   "population" records an auditor may use.
2. **The auditor** runs ``privaudit audit`` with groups: patients with a physical
   limitation (11.9 %), with a high chronic-disease index (top decile), by
   self-rated health, by class frequency (admitted patients are the rare class)
   and by outlierness — who is most exposed?
3. **Patients** ask "was *my* record used?": ``privaudit check`` with the
   class-wise LOSS attack on six patients — per role (member, non-member) one
   who was admitted (the rare class), one with a physical limitation, one with
   neither — with p-values against real non-members and against fabricated
   profiles (the larger one decides), and a verdict per patient.

Run::

    python examples/rand_hie_patients.py --out rand-hie-example

It writes ``report.html`` / ``report.json`` (the audit with its group section),
``patients.csv`` (the six records checked) and ``check.json`` (the verdicts),
and prints a summary. About 30 s on 2 CPU cores.

Data: public domain (RAND HIE via statsmodels, BSD); see
``src/privaudit/datasets/data/RAND_HIE_LICENSE.txt``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

N_MEMBERS, N_NONMEMBERS = 1500, 1500
TRUSTED = ["sklearn.tree._tree.Tree"]


def prepare(out: Path, seed: int) -> Path:
    """Split the people, train the hospital's model, write data, model and config; return the config path."""
    import skops.io as sio
    import yaml
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from privaudit.datasets import RAND_HIE_CATEGORICAL, RAND_HIE_LABEL, RAND_HIE_NUMERIC, load_rand_hie

    frame = load_rand_hie()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    role = np.full(len(frame), "population", dtype=object)
    role[order[:N_MEMBERS]] = "member"
    role[order[N_MEMBERS : N_MEMBERS + N_NONMEMBERS]] = "nonmember"
    frame["membership"] = role
    # a condition label for the report: not a model feature, a way to slice patients
    high_chronic = frame.chronic_disease_index >= frame.chronic_disease_index.quantile(0.9)
    frame["condition"] = np.select(
        [(frame.physical_limitation == 1) & high_chronic, frame.physical_limitation == 1, high_chronic],
        ["physical limitation + high chronic index", "physical limitation", "high chronic index"], "neither",
    )
    (out / "data").mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out / "data" / "rand_hie.parquet", index=False)

    features = RAND_HIE_NUMERIC + RAND_HIE_CATEGORICAL
    members = frame[frame.membership == "member"]
    model = make_pipeline(
        ColumnTransformer([("health", OneHotEncoder(handle_unknown="ignore"), RAND_HIE_CATEGORICAL)], remainder="passthrough"),
        RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1),  # fully grown trees: the usual default
    ).fit(members[features], members[RAND_HIE_LABEL])
    (out / "models").mkdir(exist_ok=True)
    sio.dump(model, out / "models" / "admission_forest.skops")

    config = {
        "seed": seed,
        "data": {
            "path": "data/rand_hie.parquet", "label": RAND_HIE_LABEL, "id_column": "person_id",
            "features": features, "membership": {"column": "membership"},
        },
        "targets": [{"name": "admission_forest", "type": "sklearn", "path": "models/admission_forest.skops", "trusted_types": TRUSTED}],
        "groups": [
            {"column": "condition"},
            {"column": "physical_limitation", "name": "physical limitation"},
            {"column": "self_rated_health", "name": "self-rated health"},
            {"by": "class_frequency"},
            {"by": "outlierness"},
        ],
        "output": ".",
    }
    path = out / "config.yaml"
    path.write_text("# Written by examples/rand_hie_patients.py\n" + yaml.safe_dump(config, sort_keys=False))
    return path


def choose_patients(out: Path, seed: int) -> Path:
    """Per role (member, non-member): an admitted patient (the rare class), one with a physical limitation, one with neither."""
    import pandas as pd

    frame = pd.read_parquet(out / "data" / "rand_hie.parquet")
    rng = np.random.default_rng(seed + 1)
    picks = []
    for role in ("member", "nonmember"):
        mine = frame.membership == role
        for kind in (frame.admitted == "yes", (frame.physical_limitation == 1) & (frame.admitted == "no"),
                     (frame.physical_limitation == 0) & (frame.admitted == "no")):
            picks.append(rng.choice(frame.index[mine & kind]))
    patients = frame.loc[picks].drop(columns=["membership"])
    path = out / "patients.csv"
    patients.to_csv(path, index=False)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("rand-hie-example"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fabricated", type=int, default=10_000, help="fabricated profiles in the fabricated null")
    args = parser.parse_args(argv)

    from privaudit.pipeline import run_audit
    from privaudit.config import load_config
    from privaudit.record_check import run_check
    from privaudit.report.check_report import check_result_to_dict
    from privaudit.report import write_report

    args.out.mkdir(parents=True, exist_ok=True)
    config_path = prepare(args.out, args.seed)
    config, base_dir = load_config(config_path)
    result = run_audit(config, base_dir)
    write_report(result, args.out, force=True)  # this script wrote the folder's data, model and config itself
    patients = choose_patients(args.out, args.seed)
    check = run_check(config, base_dir, records_file=patients, attack="classwise_threshold", null="both", n_fabricated=args.fabricated)
    (args.out / "check.json").write_text(json.dumps(check_result_to_dict(check), indent=2, ensure_ascii=False))

    best = result.best()
    print(f"admission forest, best attack {best.attack}: AUC {best.metrics.auc:.3f} "
          f"[{best.metrics.auc_ci[0]:.3f}, {best.metrics.auc_ci[1]:.3f}] on {N_MEMBERS:,} members vs {N_NONMEMBERS:,} non-members")
    for slicing in result.groups[best.target].slicings.values():
        cells = ", ".join(f"{g.name} {g.auc:.2f} (n={g.n_members}+{g.n_nonmembers})" if g.auc is not None else f"{g.name} too small"
                          for g in slicing.groups)
        print(f"  by {slicing.name}: {cells}")
    truth = dict(zip(result.record_ids, result.is_member))
    for record in check.records:
        was = "member" if truth.get(record.record_id) else "non-member"
        print(f"patient {record.record_id} (truly a {was}): p = {record.p_value:.4f}, q = {record.q_value:.4f}\n    {record.verdict}")
    print(f"power at α = {check.alpha:g}: {100 * check.power:.1f} % of members; {check.multiple_testing_note}")
    print(f"report: {args.out / 'report.html'}; verdicts: {args.out / 'check.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
