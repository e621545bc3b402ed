"""RAND Health Insurance Experiment: 5,908 real people's health records, shipped compressed.

A clinical-style prediction task for record-level checks: was this patient's
record used to train a model predicting hospital admission? Two files:
``rand_hie.csv.gz`` (one row per person, their first study year) and
``rand_hie_years.csv.gz`` (every study year of every person, 20,186
person-years: the multi-record data of person-level checks). Source,
copyright status (public domain, via statsmodels, BSD) and the derivation are
in ``data/RAND_HIE_LICENSE.txt``; :func:`derive_rand_hie_years` is that
derivation, and :func:`write_rand_hie_years` regenerates the shipped file.
"""

from __future__ import annotations

import gzip
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "load_rand_hie", "load_rand_hie_years", "derive_rand_hie_years", "write_rand_hie_years",
    "RAND_HIE_NUMERIC", "RAND_HIE_CATEGORICAL", "RAND_HIE_LABEL",
]

RAND_HIE_NUMERIC = [
    "age", "female", "black", "income", "education_years", "family_size", "child", "coinsurance",
    "individual_deductible", "mental_health_index", "chronic_disease_index", "physical_limitation", "md_visits",
]
RAND_HIE_CATEGORICAL = ["self_rated_health"]
RAND_HIE_LABEL = "admitted"

#: statsmodels' randhie column -> (privaudit column, how): "int" truncates toward zero, an int n rounds to n decimals.
_SOURCE_COLUMNS = {
    "zper": ("person_id", None), "site": ("site", None), "year": ("study_year", None), "xage": ("age", 2),
    "female": ("female", None), "black": ("black", "int"), "income": ("income", 2), "educdec": ("education_years", "int"),
    "num": ("family_size", None), "child": ("child", None), "coins": ("coinsurance", None),
    "idp": ("individual_deductible", None), "mhi": ("mental_health_index", 3), "disea": ("chronic_disease_index", 3),
    "physlm": ("physical_limitation", "int"),
}


def _read(name: str) -> pd.DataFrame:
    with resources.files("privaudit.datasets").joinpath(f"data/{name}").open("rb") as handle:
        return pd.read_csv(handle, compression="gzip", dtype={"person_id": str})


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
    return _read("rand_hie.csv.gz")


def load_rand_hie_years() -> pd.DataFrame:
    """Return every study year of every person: 20,186 person-years of 5,908 people.

    The columns of :func:`load_rand_hie`, one row per person and study year
    (1 to 5 years a person), sorted by person and year; a person's first row
    is their :func:`load_rand_hie` row. ``person_id`` groups a person's years:
    use it as the person column of a person-level check.

    Examples
    --------
    >>> df = load_rand_hie_years()
    >>> df.shape, df.person_id.nunique()
    ((20186, 18), 5908)
    """
    return _read("rand_hie_years.csv.gz")


def derive_rand_hie_years(raw: pd.DataFrame) -> pd.DataFrame:
    """The shipped person-years frame from statsmodels' ``randhie.csv`` (its 20,190 rows).

    Rows without the decision maker's education (``educdec``, 4 rows) are
    dropped; ``black``, ``educdec`` and ``physlm`` (imputed fractions for a
    few people) are truncated toward zero, ``xage`` and ``income`` rounded to
    2 decimals, ``mhi`` and ``disea`` to 3; ``self_rated_health`` combines the
    dummies ``hlthg``/``hlthf``/``hlthp`` (none set: ``"excellent"``);
    ``md_visits`` is ``mdvis`` and ``admitted`` is ``"yes"`` when ``totadm > 0``.
    Rows are sorted by person and study year.
    """
    raw = raw[raw["educdec"].notna()].sort_values(["zper", "year"], kind="stable")
    out = pd.DataFrame({"person_id": raw["zper"].astype("int64").astype(str).to_numpy()})
    for source, (name, how) in _SOURCE_COLUMNS.items():
        if source == "zper":
            continue
        values = raw[source].to_numpy()
        out[name] = values.astype("int64") if how in (None, "int") else np.round(values.astype(float), how)
    out["self_rated_health"] = np.select(
        [raw["hlthg"].to_numpy() == 1, raw["hlthf"].to_numpy() == 1, raw["hlthp"].to_numpy() == 1],
        ["good", "fair", "poor"], "excellent")
    out["md_visits"] = raw["mdvis"].to_numpy().astype("int64")
    out[RAND_HIE_LABEL] = np.where(raw["totadm"].to_numpy() > 0, "yes", "no")
    return out


def write_rand_hie_years(source: str | Path, out: str | Path) -> Path:
    """Regenerate ``rand_hie_years.csv.gz`` from statsmodels' ``randhie.csv`` (byte-stable gzip, mtime 0).

    ``source`` is ``statsmodels/datasets/randhie/src/randhie.csv`` of the
    statsmodels 0.15.0 wheel; ``out`` the file to write.
    """
    frame = derive_rand_hie_years(pd.read_csv(source))
    out = Path(out)
    with open(out, "wb") as raw_file, gzip.GzipFile(fileobj=raw_file, mode="wb", mtime=0, filename="") as handle:
        handle.write(frame.to_csv(index=False).encode())
    return out
