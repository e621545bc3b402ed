"""The demo's person part: RAND HIE person-years, a model trained on whole persons, and a worked person check.

People rarely have one record: a patient has one per study year. ``privaudit
demo`` therefore writes, beside the Adult audit, a small second setting in
``persons/`` and checks *persons* in it:

* **Data** (:func:`person_years_frame`): every study year of the 5,908 RAND HIE
  people (:func:`privaudit.datasets.load_rand_hie_years`, 20,186 person-years).
  Membership is decided **per person** by a fair coin: all of a member's years
  are in training, none of a non-member's; half of the non-member persons stay
  audited non-members (the null persons), the other half are population records
  for the reference models. The config sets ``data.person_column: person_id``,
  so a person whose years had different roles is refused.
* **Model** (:func:`admission_forest`): a random forest of fully grown trees
  predicting hospital admission from one year's record, trained on the member
  persons' years (the forest memorises the patients it saw).
* **Worked check** (:func:`worked_person_check`): per role, one person with 1,
  3 and 5 study years, drawn at random (seeded), not picked by score; all their
  years checked with ``check``'s default attack (offline RMIA with the config's
  8 reference forests) and grouped by person: one p-value per person against
  real non-member persons with as many years, a Benjamini–Hochberg q-value, a
  verdict and the power for a person of that size (:mod:`privaudit.person_check`).

``examples/rand_hie_persons.py`` runs the same setting as a full audit with a
person-level ROC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["PERSON_DEMO_FILES", "PERSON_FEATURES", "person_years_frame", "admission_forest", "person_config", "stage_person_demo",
           "choose_persons", "worked_person_check"]

#: types the forest's skops file holds beyond skops' defaults
TRUSTED = ["sklearn.tree._tree.Tree"]
#: where the person part lives in the demo folder (``persons/reference-models/`` is the store its check fills)
PERSON_DEMO_FILES = ("persons/data/rand_hie_years.parquet", "persons/models/admission_forest.skops", "persons/config.yaml",
                     "persons/reference-models/")
#: reference forests of the person part (offline, on population persons' years)
PERSON_REFERENCE_MODELS = 8
#: person sizes (study years) of the worked check, one member and one non-member each
WORKED_SIZES = (1, 3, 5)


def _features() -> list[str]:
    from privaudit.datasets import RAND_HIE_CATEGORICAL, RAND_HIE_NUMERIC

    return RAND_HIE_NUMERIC + RAND_HIE_CATEGORICAL + ["study_year"]


PERSON_FEATURES = _features()


def person_years_frame(seed: int):
    """RAND HIE person-years with ``membership`` per person (coin flip; non-members split into null and population) and ``record_id``."""
    from privaudit.datasets import load_rand_hie_years

    frame = load_rand_hie_years()
    rng = np.random.default_rng(seed)
    persons = frame.person_id.unique()
    member = rng.random(persons.size) < 0.5
    role = np.where(member, "member", np.where(rng.random(persons.size) < 0.5, "nonmember", "population"))
    frame["membership"] = frame.person_id.map(dict(zip(persons, role)))
    frame["record_id"] = [f"{p}-y{y}" for p, y in zip(frame.person_id, frame.study_year)]
    return frame


def admission_forest(frame, seed: int):
    """A random forest (200 fully grown trees) fitted on the member persons' years; returns the fitted pipeline."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from privaudit.datasets import RAND_HIE_CATEGORICAL, RAND_HIE_LABEL

    members = frame[frame.membership == "member"]
    return make_pipeline(
        ColumnTransformer([("health", OneHotEncoder(handle_unknown="ignore"), RAND_HIE_CATEGORICAL)], remainder="passthrough"),
        RandomForestClassifier(n_estimators=200, max_features="sqrt", random_state=seed, n_jobs=1),
    ).fit(members[PERSON_FEATURES], members[RAND_HIE_LABEL])


def person_config(seed: int, n_member_years: int, *, reference_models: int = PERSON_REFERENCE_MODELS, store: str = "reference-models",
                  attacks: list | None = None) -> dict:
    """The person part's config: person-level membership (``data.person_column``) and offline reference forests."""
    from privaudit.datasets import RAND_HIE_LABEL

    config = {
        "seed": seed,
        "data": {"path": "data/rand_hie_years.parquet", "label": RAND_HIE_LABEL, "id_column": "record_id", "person_column": "person_id",
                 "features": PERSON_FEATURES, "membership": {"column": "membership"}},
        "targets": [{"name": "admission_forest", "type": "sklearn", "path": "models/admission_forest.skops", "trusted_types": TRUSTED,
                     "reference": {"models": reference_models, "mode": "offline", "train_size": int(n_member_years)}}],
        "compute": {"backend": "sequential", "store": store},
        "output": ".",
    }
    if attacks is not None:
        config["attacks"] = attacks
    return config


def stage_person_demo(out, seed: int, progress: Callable[[str], None] | None = None) -> None:
    """Write the person part's data, forest and config into the demo's :class:`~privaudit.output_folder.OutputFolder` (staged;
    the caller claims :data:`PERSON_DEMO_FILES` with the rest of the demo's names before anything is written)."""
    import skops.io as sio
    import yaml

    frame = person_years_frame(seed)
    frame.to_parquet(out.stage_path("persons/data/rand_hie_years.parquet"), index=False)
    if progress is not None:
        progress(f"training admission_forest on the {int((frame.membership == 'member').sum()):,} study years of "
                 f"{frame.person_id[frame.membership == 'member'].nunique():,} RAND HIE member persons")
    sio.dump(admission_forest(frame, seed), out.stage_path("persons/models/admission_forest.skops"))
    config = person_config(seed, int((frame.membership == "member").sum()))
    out.write_text("persons/config.yaml", "# Written by `privaudit demo` (its person part); check persons with:\n"
                   "# privaudit check persons/config.yaml --records PEOPLE.csv --person-column person_id\n" + yaml.safe_dump(config, sort_keys=False))


def choose_persons(frame, seed: int):
    """All study years of one member and one audited non-member person with each of :data:`WORKED_SIZES` years (seeded draw)."""
    years = frame.groupby("person_id").size()
    role = frame.groupby("person_id").membership.first()
    rng = np.random.default_rng(seed + 1)
    picks = [rng.choice(years.index[(role == r) & (years == k)]) for r in ("member", "nonmember") for k in WORKED_SIZES]
    chosen = frame[frame.person_id.isin(picks)]
    return chosen.set_index("person_id").loc[picks].reset_index()  # in the order picked


def worked_person_check(config_path: str | Path, *, seed: int = 0, progress: Callable[[str], None] | None = None):
    """The demo's worked person check on the person part's config (see the module docstring); returns the :class:`CheckResult`."""
    import pandas as pd

    from privaudit.config import load_config
    from privaudit.record_check import check_inputs, check_records, records_from_frame

    config, base_dir = load_config(config_path)
    inputs = check_inputs(config, base_dir)
    frame = pd.read_parquet(Path(base_dir) / config.data.path)
    chosen = choose_persons(frame, seed)
    records = records_from_frame(chosen, inputs.data, label=config.data.label, id_column=config.data.id_column, source="worked person check")
    if progress is not None:
        progress(f"admission_forest: worked person check of {len(WORKED_SIZES)} member and {len(WORKED_SIZES)} non-member persons "
                 f"with {', '.join(map(str, WORKED_SIZES))} study years ({len(chosen)} records; check's default attack)")
    return check_records(inputs.target, inputs.data, records, attack=None, null="real", seed=seed, label_name=inputs.label,
                         reference=inputs.reference, progress=progress, person_ids=chosen.person_id.astype(str).to_numpy())
