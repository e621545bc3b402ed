"""Kernel profile model (smoothed bootstrap on the copula scale): exact marginals, the h → 0 limit, classes, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from privaudit.datasets import ADULT_CATEGORICAL, ADULT_NUMERIC, load_adult
from privaudit.exceptions import DataError, NotFittedError, UnknownNameError
from privaudit.fabricate import PROFILE_MODELS, KernelProfileModel, ProfileModel

FEATURES = ADULT_NUMERIC + ADULT_CATEGORICAL


@pytest.fixture(scope="module")
def adult():
    return load_adult().sample(4000, random_state=1).reset_index(drop=True)[FEATURES + ["income"]]


def _rows(frame):
    return set(map(tuple, frame.astype(str).to_numpy()))


def test_registry_names_both_models_and_explains_unknown():
    assert PROFILE_MODELS.get("kernel") is KernelProfileModel and PROFILE_MODELS.get("copula") is ProfileModel
    with pytest.raises(UnknownNameError, match="known profile models: copula, kernel"):
        PROFILE_MODELS.get("gan")


def test_zero_bandwidth_is_the_plain_bootstrap(adult):
    model = KernelProfileModel(features=FEATURES, label="income", bandwidth=0.0, category_swap=0.0, seed=0).fit(adult)
    fake = model.sample(3000, seed=2)
    assert _rows(fake) <= _rows(adult)  # every profile is a fitted record, label included
    assert len(_rows(fake)) > 2000  # and they are drawn with replacement across the whole set


def test_numeric_marginals_kept_even_with_a_wide_kernel(adult):
    # z' = (z + h ε) / sqrt(1 + h²) is N(0, 1) again, so x' = F⁻¹(Φ(z')) follows the empirical marginal for any h
    model = KernelProfileModel(features=FEATURES, label="income", bandwidth=1.0, category_swap=0.0, seed=0).fit(adult)
    fake = model.sample(20_000, seed=3)
    for column in ADULT_NUMERIC:
        assert ks_2samp(adult[column], fake[column], method="asymp").statistic < 0.03, column
    # the point mass at capital_gain == 0 survives (a plain Gaussian jitter would smear it)
    assert abs((fake.capital_gain == 0).mean() - (adult.capital_gain == 0).mean()) < 0.01
    # and the profiles are new: most numeric tuples were never observed
    numeric_rows = set(map(tuple, adult[ADULT_NUMERIC].to_numpy()))
    assert np.mean([tuple(r) in numeric_rows for r in fake[ADULT_NUMERIC].to_numpy()]) < 0.5


def test_correlation_shrinks_by_one_over_one_plus_h_squared():
    rng = np.random.default_rng(0)
    z = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=20_000)
    frame = pd.DataFrame({"x": z[:, 0], "y": z[:, 1]})
    fake = KernelProfileModel(bandwidth=1.0, seed=0).fit(frame).sample(40_000, seed=1)
    assert np.corrcoef(fake.x, fake.y)[0, 1] == pytest.approx(0.8 / 2.0, abs=0.02)


def test_category_swaps_keep_class_conditional_frequencies(adult):
    model = KernelProfileModel(features=FEATURES, label="income", bandwidth=0.0, category_swap=1.0, seed=0).fit(adult)
    fake = model.sample(40_000, seed=4)
    for label in adult.income.unique():
        real = adult.loc[adult.income == label, "occupation"].value_counts(normalize=True)
        synthetic = fake.loc[fake.income == label, "occupation"].value_counts(normalize=True)
        real, synthetic = real.align(synthetic, fill_value=0.0)
        assert 0.5 * (real - synthetic).abs().sum() < 0.03, label
    # with λ = 1 the categories are independent of each other within a class: sex no longer follows relationship
    husbands = fake[fake.relationship == "Husband"]
    assert (husbands.sex == "Female").mean() > 0.2 > (adult[adult.relationship == "Husband"].sex == "Female").mean()


def test_defaults_follow_scaled_scott_rule(adult):
    model = KernelProfileModel(features=FEATURES, label="income").fit(adult)
    h = 0.05 * len(adult) ** (-1 / (len(FEATURES) + 4))
    assert model.bandwidth_ == pytest.approx(h) and model.category_swap_ == pytest.approx(h)


def test_labels_condition_the_drawn_records_and_dtypes_round_trip(adult):
    model = KernelProfileModel(features=FEATURES, label="income", seed=0).fit(adult)
    wanted = np.array([">50K"] * 50 + ["<=50K"] * 30, dtype=object)
    fake = model.sample(80, labels=wanted, seed=5)
    assert fake.income.tolist() == wanted.tolist()
    assert fake.dtypes.to_dict() == adult.dtypes.to_dict()
    assert fake.equals(model.sample(80, labels=wanted, seed=5)) and not fake.equals(model.sample(80, labels=wanted, seed=6))


def test_refusals(adult):
    with pytest.raises(NotFittedError):
        KernelProfileModel().sample(3)
    with pytest.raises(DataError, match="bandwidth must be a number ≥ 0"):
        KernelProfileModel(label="income", bandwidth=-1.0).fit(adult)
    with pytest.raises(DataError, match="category_swap is a probability"):
        KernelProfileModel(label="income", category_swap=2.0).fit(adult)
    with pytest.raises(DataError, match="column 'age' has 1 missing"):
        KernelProfileModel(label="income").fit(adult.assign(age=adult.age.where(adult.index != 3)))
    model = KernelProfileModel(label="income").fit(adult)
    with pytest.raises(DataError, match="no fitted class"):
        model.sample(2, labels=["maybe", ">50K"])
    with pytest.raises(DataError, match="n must be a non-negative integer"):
        model.sample(-1)
