"""Fabricated profiles: marginals, class conditioning, correlation, dtypes, determinism, refusals, fidelity."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from privaudit.datasets import ADULT_CATEGORICAL, ADULT_NUMERIC, load_adult
from privaudit.exceptions import DataError, NotFittedError
from privaudit.fabricate import ProfileModel, fidelity_report, nearest_correlation

ADULT_FEATURES = ADULT_NUMERIC + ADULT_CATEGORICAL


@pytest.fixture(scope="module")
def adult():
    return load_adult().sample(5000, random_state=0).reset_index(drop=True)[ADULT_FEATURES + ["income"]]


@pytest.fixture(scope="module")
def adult_model(adult):
    return ProfileModel(features=ADULT_FEATURES, label="income", seed=0).fit(adult)


@pytest.fixture(scope="module")
def adult_synthetic(adult_model):
    return adult_model.sample(5000, seed=1)


def _gaussian(n, rho, seed):
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], size=n)
    return pd.DataFrame({"x": z[:, 0], "y": 10.0 + 3.0 * z[:, 1]})


def _tvd(a: pd.Series, b: pd.Series) -> float:
    p, q = a.value_counts(normalize=True).align(b.value_counts(normalize=True), fill_value=0.0)
    return float(0.5 * (p - q).abs().sum())


# ----------------------------------------------------------------------------- marginals and classes


@pytest.mark.parametrize("column", ADULT_NUMERIC)
def test_numeric_marginals_reproduced_on_adult(adult, adult_synthetic, column):
    assert ks_2samp(adult[column], adult_synthetic[column], method="asymp").statistic < 0.05


@pytest.mark.parametrize("column", ADULT_CATEGORICAL + ["income"])
def test_categorical_marginals_reproduced_on_adult(adult, adult_synthetic, column):
    assert _tvd(adult[column], adult_synthetic[column]) < 0.03


def test_class_frequencies_and_per_class_means_match(adult, adult_synthetic):
    real_share = (adult["income"] == ">50K").mean()
    assert abs((adult_synthetic["income"] == ">50K").mean() - real_share) < 0.02
    for label in ("<=50K", ">50K"):
        real = adult[adult["income"] == label]
        fake = adult_synthetic[adult_synthetic["income"] == label]
        for column in ("age", "education_num", "hours_per_week"):
            assert abs(fake[column].mean() - real[column].mean()) < 0.1 * real[column].std()
    # the classes differ, so conditioning is doing something
    high, low = (adult_synthetic[adult_synthetic["income"] == v]["education_num"].mean() for v in (">50K", "<=50K"))
    assert high - low > 1.0


def test_conditioning_on_given_labels(adult_model):
    labels = np.array([">50K"] * 300 + ["<=50K"] * 200)
    fake = adult_model.sample(500, labels=labels, seed=3)
    assert (fake["income"].to_numpy() == labels).all()
    assert fake["education_num"][:300].mean() > fake["education_num"][300:].mean()


def test_monotone_category_link_survives(adult, adult_synthetic):
    """education ↔ education_num is one-to-one in Adult; the copula keeps it monotone, though blurred.

    Spreading ties uniformly inside each band caps the copula correlation below 1 (about 0.95 here),
    so neighbouring levels get mixed: about 6 in 10 fabricated records keep the exact pair.
    """
    level = adult.groupby("education")["education_num"].first()
    implied = adult_synthetic["education"].map(level)
    assert implied.corr(adult_synthetic["education_num"], method="spearman") > 0.85
    assert ((implied - adult_synthetic["education_num"]).abs() <= 1).mean() > 0.8


# ----------------------------------------------------------------------------- dependence


def test_known_gaussian_correlation_recovered():
    real = _gaussian(4000, 0.7, seed=0)
    fake = ProfileModel(seed=0).fit(real).sample(20_000, seed=1)
    assert abs(np.corrcoef(fake["x"], fake["y"])[0, 1] - 0.7) < 0.05


def test_age_hours_rank_correlation_preserved(adult, adult_synthetic):
    real = adult[["age", "hours_per_week", "education_num"]].corr(method="spearman").to_numpy()
    fake = adult_synthetic[["age", "hours_per_week", "education_num"]].corr(method="spearman").to_numpy()
    assert np.abs(real - fake).max() < 0.08


def test_small_class_falls_back_to_pooled_correlation():
    frame = _gaussian(400, 0.6, seed=2).assign(label=["a"] * 397 + ["b"] * 3)
    model = ProfileModel(label="label").fit(frame)
    assert model.uses_pooled_correlation_.tolist() == [False, True]
    np.testing.assert_allclose(model.correlations_[1], model.pooled_correlation_)


def test_nearest_correlation_is_positive_definite_with_unit_diagonal():
    broken = np.array([[1.0, 0.99, -0.99], [0.99, 1.0, 0.99], [-0.99, 0.99, 1.0]])
    fixed = nearest_correlation(broken, shrinkage=0.05)
    assert np.linalg.eigvalsh(fixed).min() > 0
    np.testing.assert_allclose(np.diag(fixed), 1.0)


# ----------------------------------------------------------------------------- types and determinism


def test_dtypes_round_trip_and_values_stay_in_observed_set(adult, adult_synthetic):
    assert list(adult_synthetic.columns) == ADULT_FEATURES + ["income"]
    assert adult_synthetic.dtypes.to_dict() == adult.dtypes.to_dict()
    for column in ADULT_NUMERIC:
        assert adult_synthetic[column].between(adult[column].min(), adult[column].max()).all()
    for column in ADULT_CATEGORICAL:
        assert set(adult_synthetic[column]) <= set(adult[column])


def test_category_and_bool_and_float_dtypes_round_trip():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "colour": pd.Categorical(rng.choice(["red", "green", "blue"], 200), categories=["red", "green", "blue", "never"]),
        "flag": rng.random(200) < 0.3,
        "score": rng.normal(size=200).astype(np.float32),
        "count": rng.integers(0, 5, 200).astype(np.int16),
        "label": rng.choice([0, 1], 200),
    })
    fake = ProfileModel(label="label").fit(frame).sample(300, seed=0)
    assert fake.dtypes.to_dict() == frame.dtypes.to_dict()
    assert list(fake["colour"].cat.categories) == ["red", "green", "blue", "never"]
    assert "never" not in set(fake["colour"])
    assert set(fake["label"]) <= {0, 1}


def test_same_seed_same_records_different_seed_different(adult, adult_model):
    a, b, c = adult_model.sample(200, seed=7), adult_model.sample(200, seed=7), adult_model.sample(200, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    refit = ProfileModel(features=ADULT_FEATURES, label="income", seed=0).fit(adult)
    np.testing.assert_array_equal(refit.correlations_, adult_model.correlations_)
    pd.testing.assert_frame_equal(refit.sample(100, seed=5), adult_model.sample(100, seed=5))


def test_unlabelled_model_and_empty_sample():
    model = ProfileModel(seed=1).fit(_gaussian(100, 0.3, seed=0))
    assert list(model.sample(5).columns) == ["x", "y"]
    assert model.sample(0).shape == (0, 2)


# ----------------------------------------------------------------------------- refusals


def test_refuses_missing_values_naming_the_column():
    frame = _gaussian(50, 0.0, seed=0)
    frame.loc[3, "y"] = np.nan
    with pytest.raises(DataError, match="'y'"):
        ProfileModel().fit(frame)


def test_refuses_too_few_records_missing_columns_and_label_as_feature():
    with pytest.raises(DataError, match="at least 2"):
        ProfileModel().fit(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(DataError, match="nope"):
        ProfileModel(features=["x", "nope"]).fit(_gaussian(10, 0.0, seed=0))
    with pytest.raises(DataError, match="both"):
        ProfileModel(features=["x", "y"], label="y").fit(_gaussian(10, 0.0, seed=0))


def test_refuses_unknown_labels_and_wrong_length(adult_model):
    with pytest.raises(DataError, match="income"):
        adult_model.sample(2, labels=[">50K", "rich"])
    with pytest.raises(DataError, match="3 values"):
        adult_model.sample(2, labels=[">50K"] * 3)


def test_unfitted_model_raises_not_fitted():
    with pytest.raises(NotFittedError):
        ProfileModel().sample(3)


def test_init_only_stores_parameters():
    model = ProfileModel(features=["a"], label="b", seed=3)
    assert (model.features, model.label, model.seed) == (["a"], "b", 3)
    assert not [name for name in vars(model) if name.endswith("_")]


# ----------------------------------------------------------------------------- fidelity report


def test_fidelity_auc_near_half_for_same_model_and_high_for_broken_generator():
    real = _gaussian(1500, 0.8, seed=0)
    same = _gaussian(1500, 0.8, seed=1)
    broken = same.assign(y=np.random.default_rng(2).permutation(same["y"].to_numpy()))  # marginals kept, link broken
    good = fidelity_report(real, same, features=["x", "y"])
    bad = fidelity_report(real, broken, features=["x", "y"])
    assert abs(good["distinguishability_auc"] - 0.5) < 0.06
    assert bad["distinguishability_auc"] > 0.65
    assert bad["max_correlation_difference"] > 0.5 > good["max_correlation_difference"]


def test_fidelity_report_on_adult_is_json_able_and_complete(adult, adult_synthetic):
    report = fidelity_report(adult, adult_synthetic, features=ADULT_FEATURES, label="income", max_rows_per_side=2000)
    json.dumps(report)
    assert set(report["numeric"]) == set(ADULT_NUMERIC)
    assert set(report["categorical"]) == set(ADULT_CATEGORICAL) | {"income"}
    assert report["max_ks"] < 0.05 and report["max_tvd"] < 0.03
    assert 0.5 <= report["distinguishability_auc"] <= 1.0
    assert isinstance(report["summary"], str) and "AUC" in report["summary"]
    for entry in report["numeric"].values():
        assert all(type(v) is float for v in entry.values())


def test_fidelity_report_refuses_missing_columns():
    with pytest.raises(DataError, match="z"):
        fidelity_report(_gaussian(20, 0.0, 0), _gaussian(20, 0.0, 1), features=["x", "z"])
