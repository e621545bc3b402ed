"""QMIA (Bertran et al. 2023): calibration of its quantile on non-members, power on an overfit model, refusals, pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from privaudit.attacks import QuantileRegressionAttack, build_attack
from privaudit.attacks.qmia import min_population
from privaudit.exceptions import ConfigError, DataError, NotFittedError

REGIONS = np.array(["calm", "mid", "wild"])
SPREAD = {"calm": 0.3, "mid": 1.0, "wild": 3.0}


def heteroscedastic(n: int, rng: np.random.Generator) -> tuple[dict, np.ndarray, pd.DataFrame]:
    """Non-member scores whose (1 − α)-quantile depends on the record: the mean on a numeric feature and the
    label, the spread on a categorical region (0.3 to 3), so one global threshold flags mostly the wild region."""
    x = rng.uniform(-1, 1, n)
    region = REGIONS[rng.integers(0, 3, n)]
    labels = rng.integers(0, 2, n)
    spread = np.vectorize(SPREAD.get)(region)
    scores = 2.0 * x + 1.0 * labels + spread * rng.normal(size=n)
    return {"logit_confidence": scores}, labels, pd.DataFrame({"x": x, "region": region})


N_POPULATION, N_FRESH = 50_000, 50_000


@pytest.fixture(scope="module", params=["gaussian", "quantile"])
def calibration_run(request):
    """Fit on 50,000 population records, evaluate on 50,000 fresh non-members drawn the same way."""
    rng = np.random.default_rng(11)
    population = heteroscedastic(N_POPULATION, rng)
    fresh = heteroscedastic(N_FRESH, rng)
    with threadpool_limits(limits=1):
        attack = QuantileRegressionAttack(fpr=0.01, model=request.param).fit(population[0], population[1], features=population[2])
        scores = attack.score(fresh[0], fresh[1], features=fresh[2])
    return attack, population, fresh, scores


def test_fpr_at_zero_is_alpha_within_monte_carlo_error(calibration_run):
    """Flagged share of fresh non-members at score > 0 vs α: binomial 3σ of the test sample plus that of the
    20 % calibration split (split-conformal exceedance given the split is Beta with that variance)."""
    attack, _, _, scores = calibration_run
    alpha = attack.fpr
    n_calibration = N_POPULATION // 5
    sigma = np.sqrt(alpha * (1 - alpha) * (1 / N_FRESH + 1 / n_calibration))
    assert abs((scores > 0).mean() - alpha) <= 3 * sigma, (scores > 0).mean()


def test_fpr_is_near_alpha_in_every_region_where_a_global_threshold_is_not(calibration_run):
    """The case QMIA exists for: one global threshold at the population's 99th percentile flags almost no calm
    records and over 2α of the wild ones; QMIA's per-region rate stays within [α/2, 3α/2] in every region."""
    attack, population, fresh, scores = calibration_run
    alpha = attack.fpr
    regions = fresh[2]["region"].to_numpy()
    global_flags = fresh[0]["logit_confidence"] > np.quantile(population[0]["logit_confidence"], 1 - alpha)
    assert global_flags[regions == "calm"].mean() < 0.2 * alpha and global_flags[regions == "wild"].mean() > 2 * alpha
    for region in REGIONS:
        share = (scores[regions == region] > 0).mean()
        assert 0.5 * alpha <= share <= 1.5 * alpha, (region, share)


def test_members_score_higher_than_nonmembers_on_an_overfit_model():
    """An sklearn target that memorised noisy labels, audited through the pipeline (features flow to fit and score).

    Leaves of two records keep the forest's probabilities off exactly 0 and 1: with pure leaves the logit score
    saturates at ±744 and the gaussian model's variance is swamped (AUC 0.56, measured; see the module docstring)."""
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from privaudit.data import audit_data_from_frame
    from privaudit.datasets import make_synthetic_tabular
    from privaudit.pipeline import audit
    from privaudit.targets.sklearn import SklearnTarget

    frame = make_synthetic_tabular(6000, label_noise=0.3, seed=3)
    frame["split"] = np.r_[np.repeat(["member", "nonmember"], 500), np.repeat("population", 5000)]
    features = [c for c in frame.columns if c.startswith("x")] + ["colour"]
    data = audit_data_from_frame(frame, label="label", id_column="record_id", features=features, membership_column="split")
    members = frame[frame.split == "member"]
    model = make_pipeline(make_column_transformer((OneHotEncoder(), ["colour"]), remainder="passthrough"),
                          RandomForestClassifier(n_estimators=100, min_samples_leaf=2, random_state=0))
    with threadpool_limits(limits=1):
        model.fit(members[features], members.label)
        qmia = build_attack({"name": "qmia", "fpr": 0.01})
        attacks = [qmia, build_attack({"name": "qmia", "model": "quantile"}), "loss"]
        result = audit(data, [SklearnTarget(model, name="forest")], attacks, n_bootstrap=50, seed=0)
    scores = {r.attack: r.metrics.auc for r in result.results}
    assert scores["qmia[gaussian,logit_confidence]"] > 0.6 and scores["qmia[quantile,logit_confidence]"] > 0.6
    assert qmia.n_population_ == 5000 and qmia.fit_seconds_ > 0


def test_refusals_are_one_line():
    rng = np.random.default_rng(0)
    signals, labels, features = heteroscedastic(500, rng)
    attack = QuantileRegressionAttack()
    with pytest.raises(DataError, match=f"at least {min_population(0.01):,} population records"):
        attack.fit(signals, labels, features=features)
    with pytest.raises(DataError, match="features"):
        attack.fit(signals, labels)
    with pytest.raises(DataError, match="feature rows"):
        attack.fit(signals, labels, features=features.iloc[:-1])
    with pytest.raises(NotFittedError, match="fit"):
        attack.score(signals, labels, features=features)
    with pytest.raises(ConfigError, match="fpr"):
        QuantileRegressionAttack(fpr=0.7).fit(signals, labels, features=features)
    with pytest.raises(ConfigError, match="model must be one of gaussian, quantile"):
        QuantileRegressionAttack(model="forest").fit(signals, labels, features=features)


def test_scoring_refuses_other_columns_and_codes_unseen_categories_as_missing(calibration_run):
    attack, _, fresh, _ = calibration_run
    signals, labels, features = fresh
    few = slice(0, 50)
    with pytest.raises(DataError, match="feature columns"):
        attack.score({"logit_confidence": signals["logit_confidence"][few]}, labels[few], features=features.iloc[few][["region", "x"]])
    unseen = features.iloc[few].assign(region="never seen")
    scores = attack.score({"logit_confidence": signals["logit_confidence"][few]}, labels[few], features=unseen)
    assert scores.shape == (50,) and np.all(np.isfinite(scores))


def test_the_pipeline_refuses_data_without_population_in_one_line():
    from privaudit.pipeline import Collected, score_attack

    with pytest.raises(DataError, match="population records"):
        score_attack(QuantileRegressionAttack(), Collected({"logit_confidence": np.zeros(3)}), np.zeros(3, int), None)


def test_image_records_regress_on_their_pixel_columns():
    """Image records (RecordSet.image_shape) are feature columns of pixels: QMIA fits and scores them like any table."""
    from dataclasses import replace

    from sklearn.ensemble import RandomForestClassifier

    from privaudit.data import AuditData, audit_data_from_frame
    from privaudit.pipeline import audit
    from privaudit.targets.sklearn import SklearnTarget

    rng = np.random.default_rng(5)
    n, side = 3000, 6
    labels = rng.integers(0, 3, n)
    patterns = rng.normal(0, 1, (3, side * side))
    pixels = patterns[labels] + rng.normal(0, 2.0, (n, side * side))
    frame = pd.DataFrame(pixels, columns=[f"p{i}" for i in range(side * side)])
    frame["label"] = labels
    frame["record_id"] = [f"img-{i}" for i in range(n)]
    frame["split"] = np.r_[np.repeat(["member", "nonmember"], 250), np.repeat("population", n - 500)]
    pixel_columns = [f"p{i}" for i in range(side * side)]
    flat = audit_data_from_frame(frame, label="label", id_column="record_id", features=pixel_columns, membership_column="split")
    data = AuditData(replace(flat.records, image_shape=(1, side, side)), flat.members, flat.nonmembers, flat.population)
    members = frame[frame.split == "member"]
    with threadpool_limits(limits=1):
        forest = RandomForestClassifier(n_estimators=100, min_samples_leaf=2, random_state=0).fit(members[pixel_columns], members.label)
        qmia = build_attack({"name": "qmia"})
        result = audit(data, [SklearnTarget(forest, name="pixels")], [qmia], n_bootstrap=50, seed=0)
    assert qmia.coding_.categorical_mask.tolist() == [False] * side * side + [True]  # pixels numeric, the label categorical
    assert result.results[0].metrics.auc > 0.6, result.results[0].metrics.auc


def test_feature_coding_stays_within_histgradientboostings_category_limit():
    from privaudit.attacks.qmia import MAX_CATEGORIES, FeatureCoding

    rng = np.random.default_rng(2)
    table = pd.DataFrame({"city": [f"c{i}" for i in rng.integers(0, 400, 5000)], "flag": rng.random(5000) < 0.5,
                          "age": rng.integers(18, 90, 5000)})
    many_classes = rng.integers(0, 300, 5000)
    coding = FeatureCoding(table, many_classes)
    assert coding.categorical_mask.tolist() == [True, True, False, False]  # 300 classes: the label is a number
    matrix = coding.transform(table, many_classes)
    assert np.nanmax(matrix[:, 0]) == MAX_CATEGORIES - 2 and np.isnan(matrix[:, 0]).any()  # the 254 most frequent cities, the rest missing
    assert set(np.unique(matrix[:, 1])) == {0.0, 1.0} and np.array_equal(matrix[:, 2], table["age"].to_numpy(float))
    assert FeatureCoding(table, rng.integers(0, 10, 5000)).categorical_mask[-1]
