"""Built-in data: UCI Adult (real, CC BY 4.0) and a seeded synthetic generator for tests."""

from privaudit.datasets.adult import ADULT_CATEGORICAL, ADULT_NUMERIC, load_adult
from privaudit.datasets.synthetic import make_synthetic_tabular

__all__ = ["load_adult", "make_synthetic_tabular", "ADULT_NUMERIC", "ADULT_CATEGORICAL"]
