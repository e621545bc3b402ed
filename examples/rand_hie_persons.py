"""Was *this person's* data used? RAND HIE person-years: every study year of 5,908 real people.

A hospital trains a model predicting whether a person is admitted to hospital in a year, from that
year's record, on every year of the people it enrolled. Membership is **per person**, by a fair coin:
all of a member's years are in training, none of a non-member's. This example plays both sides:

1. **The model owner** trains a random forest (fully grown trees) on the member persons' years. Half
   of the non-member persons stay audited non-members (the null persons); the other half are public
   population records for the auditor's reference models.
2. **The auditor** runs ``privaudit audit`` with ``data.person_column: person_id``: membership is
   checked to be per person, and the report gains a person-level ROC (member vs non-member persons).
3. **People** ask "was *my* data used?": ``privaudit check --person-column person_id`` with offline
   RMIA (8 reference forests) on members and non-members with 1, 3 and 5 study years — one p-value,
   verdict and power per person, against real non-member persons with as many years.

Run::

    python examples/rand_hie_persons.py --out rand-hie-persons

It writes ``report.html`` / ``report.json``, ``persons.csv`` (the records checked) and ``check.json``,
and prints a summary. About a minute on 2 CPU cores.

Data: public domain (RAND HIE via statsmodels, BSD); see ``src/privaudit/datasets/data/RAND_HIE_LICENSE.txt``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

TRUSTED = ["sklearn.tree._tree.Tree"]


def prepare(out: Path, seed: int, reference_models: int) -> Path:
    """Flip a coin per person, train the hospital's model, write data, model and config; return the config path."""
    import skops.io as sio
    import yaml
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from privaudit.datasets import RAND_HIE_CATEGORICAL, RAND_HIE_LABEL, RAND_HIE_NUMERIC, load_rand_hie_years

    frame = load_rand_hie_years()
    rng = np.random.default_rng(seed)
    persons = frame.person_id.unique()
    member = rng.random(persons.size) < 0.5
    role = np.where(member, "member", np.where(rng.random(persons.size) < 0.5, "nonmember", "population"))
    frame["membership"] = frame.person_id.map(dict(zip(persons, role)))
    frame["record_id"] = [f"{p}-y{y}" for p, y in zip(frame.person_id, frame.study_year)]
    (out / "data").mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out / "data" / "rand_hie_years.parquet", index=False)

    features = RAND_HIE_NUMERIC + RAND_HIE_CATEGORICAL + ["study_year"]
    members = frame[frame.membership == "member"]
    model = make_pipeline(
        ColumnTransformer([("health", OneHotEncoder(handle_unknown="ignore"), RAND_HIE_CATEGORICAL)], remainder="passthrough"),
        RandomForestClassifier(n_estimators=200, max_features="sqrt", random_state=seed, n_jobs=1),
    ).fit(members[features], members[RAND_HIE_LABEL])
    (out / "models").mkdir(exist_ok=True)
    sio.dump(model, out / "models" / "admission_forest.skops")
    config = {
        "seed": seed,
        "data": {"path": "data/rand_hie_years.parquet", "label": RAND_HIE_LABEL, "id_column": "record_id", "person_column": "person_id",
                 "features": features, "membership": {"column": "membership"}},
        "targets": [{"name": "admission_forest", "type": "sklearn", "path": "models/admission_forest.skops", "trusted_types": TRUSTED,
                     "reference": {"models": reference_models, "mode": "offline", "train_size": int(len(members))}}],
        "attacks": ["loss", {"name": "classwise_threshold", "signal": "loss"}, {"name": "rmia", "mode": "offline"}],
        "compute": {"backend": "sequential", "store": "reference-store"},
        "output": ".",
    }
    path = out / "config.yaml"
    path.write_text("# Written by examples/rand_hie_persons.py\n" + yaml.safe_dump(config, sort_keys=False))
    return path


def choose_persons(out: Path, seed: int) -> Path:
    """Per role (member, audited non-member): one person with 1 study year, one with 3, one with 5; all their years."""
    import pandas as pd

    frame = pd.read_parquet(out / "data" / "rand_hie_years.parquet")
    years = frame.groupby("person_id").size()
    role = frame.groupby("person_id").membership.first()
    rng = np.random.default_rng(seed + 1)
    picks = [rng.choice(years.index[(role == r) & (years == k)]) for r in ("member", "nonmember") for k in (1, 3, 5)]
    chosen = frame[frame.person_id.isin(picks)].drop(columns=["membership"])
    chosen = chosen.set_index("person_id").loc[picks].reset_index()  # in the order picked
    path = out / "persons.csv"
    chosen.to_csv(path, index=False)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("rand-hie-persons"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference-models", type=int, default=8)
    args = parser.parse_args(argv)

    from privaudit.config import load_config
    from privaudit.pipeline import run_audit
    from privaudit.record_check import run_check
    from privaudit.report import write_report
    from privaudit.report.check_report import check_result_to_dict

    args.out.mkdir(parents=True, exist_ok=True)
    config, base_dir = load_config(prepare(args.out, args.seed, args.reference_models))
    result = run_audit(config, base_dir)
    write_report(result, args.out, force=True)  # this script wrote the folder's data, model and config itself
    persons = choose_persons(args.out, args.seed)
    check = run_check(config, base_dir, records_file=persons, attack={"name": "rmia", "mode": "offline"}, person_column="person_id")
    (args.out / "check.json").write_text(json.dumps(check_result_to_dict(check), indent=2, ensure_ascii=False))

    best, roc = result.best(), result.persons["admission_forest"]
    print(f"admission forest, best attack {best.attack}: record-level AUC {best.metrics.auc:.3f} "
          f"[{best.metrics.auc_ci[0]:.3f}, {best.metrics.auc_ci[1]:.3f}]; person-level AUC {roc.metrics.auc:.3f} "
          f"[{roc.metrics.auc_ci[0]:.3f}, {roc.metrics.auc_ci[1]:.3f}] on {roc.n_member_persons:,} member vs "
          f"{roc.n_nonmember_persons:,} non-member persons")
    members = set(result.record_ids[result.is_member])
    truth = {}
    for record in check.records:
        truth.setdefault(record.record_id.split("-y")[0], record.record_id in members)
    for person in check.persons:
        was = "member" if truth.get(person.person) else "non-member"
        print(f"person {person.person} ({person.n_records} year{'s' if person.n_records != 1 else ''}, truly a {was}): "
              f"p = {person.p_value:.4f}, q = {person.q_value:.4f}, power {100 * (person.power or 0):.0f} %\n    {person.verdict}")
    print(f"report: {args.out / 'report.html'}; verdicts: {args.out / 'check.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
