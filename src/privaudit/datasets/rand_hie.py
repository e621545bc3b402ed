"""RAND Health Insurance Experiment: 5,908 real people's health records, shipped compressed.

A clinical-style prediction task for record-level checks: was this patient's
record used to train a model predicting hospital admission? Source, copyright
status (public domain, via statsmodels, BSD) and the derivation are in
``data/RAND_HIE_LICENSE.txt``.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_rand_hie", "RAND_HIE_NUMERIC", "RAND_HIE_CATEGORICAL", "RAND_HIE_LABEL"]

RAND_HIE_NUMERIC = [
    "age", "female", "black", "income", "education_years", "family_size", "child", "coinsurance",
    "individual_deductible", "mental_health_index", "chronic_disease_index", "physical_limitation", "md_visits",
]
RAND_HIE_CATEGORICAL = ["self_rated_health"]
RAND_HIE_LABEL = "admitted"


def load_rand_hie() -> pd.DataFrame:
    """Return one row per person (5,908), their first study year.

    Columns: ``person_id`` (the HIE person id, as a string), ``site``,
    ``study_year``, the features in :data:`RAND_HIE_NUMERIC` and
    :data:`RAND_HIE_CATEGORICAL` (``chronic_disease_index``: the HIE count of
    chronic diseases, an imputed index; ``physical_limitation``: 1 if the
    person has one), and the label ``admitted`` (``"yes"`` if the person had
    at least one hospital admission that year, 8.9 %).

    Examples
    --------
    >>> df = load_rand_hie()
    >>> df.shape, int((df.admitted == "yes").sum())
    ((5908, 18), 524)
    """
    with resources.files("privaudit.datasets").joinpath("data/rand_hie.csv.gz").open("rb") as handle:
        return pd.read_csv(handle, compression="gzip", dtype={"person_id": str})
