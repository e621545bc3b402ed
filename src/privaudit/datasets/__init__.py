"""Built-in data: UCI Adult (census, CC BY 4.0), RAND HIE (health, public domain; one row per person or every study year) and a seeded synthetic generator."""

from privaudit.datasets.adult import ADULT_CATEGORICAL, ADULT_NUMERIC, load_adult
from privaudit.datasets.rand_hie import (
    RAND_HIE_CATEGORICAL, RAND_HIE_LABEL, RAND_HIE_NUMERIC, load_rand_hie, load_rand_hie_years,
)
from privaudit.datasets.synthetic import make_synthetic_tabular

__all__ = [
    "load_adult", "load_rand_hie", "load_rand_hie_years", "make_synthetic_tabular",
    "ADULT_NUMERIC", "ADULT_CATEGORICAL", "RAND_HIE_NUMERIC", "RAND_HIE_CATEGORICAL", "RAND_HIE_LABEL",
]
