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




def prepare(out: Path, seed: int, reference_models: int) -> Path:
    """Flip a coin per person, train the hospital's model, write data, model and config; return the config path.

    The same setting as ``privaudit demo``'s person part (:mod:`privaudit.demo_persons`), with the attacks of a full audit.
    """
    import skops.io as sio
    import yaml

    from privaudit.demo_persons import admission_forest, person_config, person_years_frame

    frame = person_years_frame(seed)
    (out / "data").mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out / "data" / "rand_hie_years.parquet", index=False)
    (out / "models").mkdir(exist_ok=True)
    sio.dump(admission_forest(frame, seed), out / "models" / "admission_forest.skops")
    config = person_config(seed, int((frame.membership == "member").sum()), reference_models=reference_models, store="reference-store",
                           attacks=["loss", {"name": "classwise_threshold", "signal": "loss"}, {"name": "rmia", "mode": "offline"}])
    path = out / "config.yaml"
    path.write_text("# Written by examples/rand_hie_persons.py\n" + yaml.safe_dump(config, sort_keys=False))
    return path


def choose_persons(out: Path, seed: int) -> Path:
    """Per role (member, audited non-member): one person with 1 study year, one with 3, one with 5; all their years."""
    import pandas as pd

    from privaudit.demo_persons import choose_persons as draw

    chosen = draw(pd.read_parquet(out / "data" / "rand_hie_years.parquet"), seed).drop(columns=["membership"])
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
