"""Augmented queries (Carlini et al. 2022, §VI): the copies' geometry, the multi-query LiRA/RMIA statistics, and an audit on image records."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_ndtr
from scipy.stats import binom, norm

from privaudit.attacks import LiRAAttack, RMIAAttack, build_attack
from privaudit.attacks.lira import lira_offline_scores, lira_online_scores
from privaudit.attacks.reference import ReferenceSignals
from privaudit.attacks.rmia import rmia_multi_query_scores, rmia_scores
from privaudit.augmentations import Augmentations, augmented_signal_key, parse_augment
from privaudit.data import AuditData, RecordSet
from privaudit.exceptions import CapabilityError, ConfigError, DataError


def image_records(pixels: np.ndarray, labels=None, ids=None) -> RecordSet:
    """Records of images ``pixels`` (n, C, H, W), pixels as feature columns in C-order."""
    n = pixels.shape[0]
    labels = np.zeros(n, dtype=int) if labels is None else np.asarray(labels)
    ids = np.array([f"r{i}" for i in range(n)]) if ids is None else ids
    features = pd.DataFrame(pixels.reshape(n, -1), columns=[f"p{i}" for i in range(int(np.prod(pixels.shape[1:])))])
    return RecordSet(ids, features, labels, (0, 1), image_shape=tuple(pixels.shape[1:]))


def as_images(records: RecordSet) -> np.ndarray:
    return records.features.to_numpy().reshape(len(records), *records.image_shape)


def reflect(k: int, size: int) -> int:
    """numpy/TensorFlow 'reflect' index: the edge pixel is not repeated."""
    return -k if k < 0 else 2 * (size - 1) - k if k >= size else k


# --- geometry -------------------------------------------------------------------------------------------------


def test_parse_augment_defaults_keys_and_query_counts():
    assert parse_augment(None, attack="lira") is None and parse_augment(False, attack="lira") is None
    default = parse_augment(True, attack="lira")
    assert default == Augmentations(flip=True, shift=1) and default.key == "flip,shift=1" and default.n_queries == 18
    assert parse_augment({"flip": True, "shift": 0}, attack="lira").n_queries == 2
    assert parse_augment({"flip": False, "shift": 2}, attack="lira").key == "shift=2"
    assert parse_augment({"shift": 2}, attack="lira").n_queries == 2 * 25
    assert hash(Augmentations(True, 1)) == hash(parse_augment(True, attack="x"))  # hashable, equal by value
    assert augmented_signal_key("loss", None) == "loss" and augmented_signal_key("loss", default) == "loss@flip,shift=1"


@pytest.mark.parametrize("value, words", [
    ("yes", "augment must be true, false or a mapping"),
    ({"flip": "true"}, "flip must be true or false"),
    ({"shift": -1}, "shift must be a whole number ≥ 0"),
    ({"shift": 1.5}, "shift must be a whole number ≥ 0"),
    ({"mirror": True}, "unknown key(s) mirror"),
    ({"flip": False, "shift": 0}, "asks for no augmented copies"),
])
def test_bad_augment_is_a_one_line_config_error_naming_the_attack(value, words):
    with pytest.raises(ConfigError) as info:
        build_attack({"name": "lira", "augment": value})
    message = str(info.value)
    assert "attack 'lira'" in message and words in message and "\n" not in message


def test_bad_augment_in_a_config_is_refused_at_load_in_one_line():
    from privaudit.config import parse_config

    raw = {"data": {"path": "x.csv", "label": "y", "membership": {"column": "split"}},
           "targets": [{"name": "t", "type": "sklearn", "path": "m.skops"}], "attacks": [{"name": "rmia", "augment": {"shift": "1"}}]}
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert "attack 'rmia': augment shift must be a whole number" in str(info.value) and "\n" not in str(info.value)
    raw["attacks"] = [{"name": "rmia", "augment": {"shift": 2}}]
    assert parse_config(raw).attacks == [{"name": "rmia", "augment": {"shift": 2}}]


def test_copies_are_record_major_with_ids_labels_and_image_shape_kept():
    rng = np.random.default_rng(0)
    records = image_records(rng.normal(size=(3, 2, 5, 6)), labels=[0, 1, 1])
    augmentations = Augmentations(flip=True, shift=1)
    copies = augmentations.apply(records)
    q = augmentations.n_queries
    assert len(copies) == 3 * q == 54
    assert copies.ids.tolist() == [i for i in records.ids for _ in range(q)]
    assert copies.labels.tolist() == [y for y in records.labels for _ in range(q)]
    assert copies.classes == records.classes and copies.image_shape == (2, 5, 6)
    assert list(copies.features.columns) == list(records.features.columns)
    images = as_images(copies).reshape(3, q, 2, 5, 6)
    np.testing.assert_array_equal(images[:, 0], as_images(records))  # query 0 is each record itself


def test_flip_twice_is_the_identity_and_mirrors_every_channel():
    rng = np.random.default_rng(1)
    records = image_records(rng.normal(size=(4, 3, 4, 5)))
    flip = Augmentations(flip=True, shift=0)
    once = flip.apply(records)
    flipped = once.subset(np.arange(1, len(once), 2))  # query 1 of each record: the mirror
    np.testing.assert_array_equal(as_images(flipped), as_images(records)[..., ::-1])
    twice = flip.apply(flipped).subset(np.arange(1, 2 * len(flipped), 2))
    np.testing.assert_array_equal(as_images(twice), as_images(records))


def test_a_one_pixel_shift_moves_a_known_pixel():
    image = np.zeros((1, 1, 8, 8))
    image[0, 0, 3, 4] = 1.0
    augmentations = Augmentations(flip=False, shift=1)
    copies = as_images(augmentations.apply(image_records(image)))
    for index, (flipped, dy, dx) in enumerate(augmentations.offsets()):
        assert not flipped
        bright = np.argwhere(copies[index, 0] == 1.0).tolist()
        assert bright == [[3 - dy, 4 - dx]], (dy, dx)  # copy (i, j) = original (i + dy, j + dx)


def test_padding_is_reflect_as_in_the_papers_code():
    """Every copy equals an independent per-pixel construction with reflect indices (not zero, edge or symmetric padding)."""
    rng = np.random.default_rng(2)
    pixels = rng.normal(size=(2, 2, 4, 5))
    augmentations = Augmentations(flip=True, shift=2)
    copies = as_images(augmentations.apply(image_records(pixels))).reshape(2, augmentations.n_queries, 2, 4, 5)
    for index, (flipped, dy, dx) in enumerate(augmentations.offsets()):
        source = pixels[..., ::-1] if flipped else pixels
        expected = np.empty_like(pixels)
        for i in range(4):
            for j in range(5):
                expected[:, :, i, j] = source[:, :, reflect(i + dy, 4), reflect(j + dx, 5)]
        np.testing.assert_array_equal(copies[:, index], expected)
    # the edge: shifting one pixel left fills the last column with the second-to-last one (reflect), not the last (edge) nor 0
    shifted = copies[:, augmentations.offsets().index((False, 0, 1))]
    np.testing.assert_array_equal(shifted[..., -1], pixels[..., -2])


def test_offsets_start_with_the_record_and_cover_every_shift_once():
    augmentations = Augmentations(flip=True, shift=1)
    offsets = augmentations.offsets()
    assert offsets[0] == (False, 0, 0) and offsets[9] == (True, 0, 0)
    assert len(set(offsets)) == len(offsets) == 18


def test_tabular_records_and_too_large_shifts_are_refused():
    tabular = RecordSet(np.array(["a", "b"]), pd.DataFrame({"x": [1.0, 2.0]}), np.array([0, 1]), (0, 1))
    with pytest.raises(CapabilityError, match="augmentations need image records"):
        Augmentations().apply(tabular)
    with pytest.raises(ConfigError, match="shift=3 needs images larger"):
        Augmentations(shift=3).apply(image_records(np.zeros((1, 1, 3, 3))))


def test_copies_that_would_not_fit_in_memory_are_refused_before_they_are_made(monkeypatch):
    """Q grows as shift²: a shift of 13 on 28 × 28 images is 1,458 copies of each record; refused up front, not by the OOM killer."""
    from privaudit import augmentations

    records = image_records(np.zeros((10, 1, 28, 28), np.float32))
    monkeypatch.setattr(augmentations, "MAX_AUGMENTED_BYTES", 10 * 18 * 28 * 28 * 4)  # exactly room for shift=1 (Q = 18)
    assert len(Augmentations(shift=1).apply(records)) == 180
    with pytest.raises(ConfigError, match=r"augment flip,shift=13 makes 1,458 copies of each of 10 records .*use a smaller shift"):
        Augmentations(shift=13).apply(records)


# --- the multi-query statistics ---------------------------------------------------------------------------------


def exact_reference(mu_in: np.ndarray, mu_out: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """4 reference models per record whose IN/OUT sample means are exactly ``mu_in``/``mu_out`` and sample sd (ddof=1) ``sigma``.

    Shapes (n, Q) in, (n, 4, Q) and in_mask (n, 4) out: two IN values μ_in ± σ/√2, two OUT values μ_out ± σ/√2.
    """
    half = sigma / np.sqrt(2)
    reference = np.stack([mu_in + half, mu_in - half, mu_out + half, mu_out - half], axis=1)
    in_mask = np.tile([True, True, False, False], (mu_in.shape[0], 1))
    return reference, in_mask


def test_multi_query_lira_matches_the_closed_form():
    """With IN/OUT Gaussians known exactly, online LiRA is Σ_q log N(t_q; μ_in,q, σ_q) − log N(t_q; μ_out,q, σ_q), offline Σ_q logit Φ."""
    rng = np.random.default_rng(3)
    n, q = 50, 7
    mu_out = rng.normal(size=(n, q))
    mu_in = mu_out + rng.uniform(0.1, 2.0, size=(n, q))
    sigma = rng.uniform(0.3, 2.0, size=(n, q))
    target = rng.normal(mu_out, 2.0)
    reference, in_mask = exact_reference(mu_in, mu_out, sigma)
    expected = (norm.logpdf(target, mu_in, sigma) - norm.logpdf(target, mu_out, sigma)).sum(axis=1)
    np.testing.assert_allclose(lira_online_scores(target, reference, in_mask), expected, rtol=1e-10, atol=1e-10)
    u = (target - mu_out) / sigma
    np.testing.assert_allclose(lira_offline_scores(target, reference, in_mask), (log_ndtr(u) - log_ndtr(-u)).sum(axis=1), rtol=1e-10)


@pytest.mark.parametrize("q", [1, 4, 16])
def test_independent_queries_give_the_power_the_closed_form_predicts(q):
    """Members' queries are N(μ_in, σ²), non-members' N(μ_out, σ²), independent across queries, with d = (μ_in − μ_out)/σ.

    The summed log-likelihood ratio is then N(±Q·d²/2, Q·d²) for members/non-members: at the threshold
    τ = −Q·d²/2 + √Q·d·z₀.₉₉ its FPR is 1 % and its TPR Φ(√Q·d − z₀.₉₉) — 3.4 %, 9.2 % and 37 % for Q = 1, 4, 16.
    Both are checked as binomial counts (two-sided, 0.1 % level), so a statistic that averaged, dropped or
    double-counted queries, or mixed up their order, fails.
    """
    rng = np.random.default_rng(10 + q)
    n, d, sigma = 4000, 0.5, 1.3
    member = np.arange(n) < n // 2
    mu_out = rng.normal(size=(n, q))
    mu_in = mu_out + d * sigma
    reference, in_mask = exact_reference(mu_in, mu_out, np.full((n, q), sigma))
    target = np.where(member[:, None], mu_in, mu_out) + sigma * rng.normal(size=(n, q))
    scores = LiRAAttack(mode="online").fit().score({"logit_confidence": target}, np.zeros(n, int),
                                                    ReferenceSignals({"logit_confidence": reference}, in_mask))
    z = norm.ppf(0.99)
    threshold = -q * d**2 / 2 + np.sqrt(q) * d * z
    for rate, group in ((0.01, ~member), (norm.cdf(np.sqrt(q) * d - z), member)):
        hits = int((scores[group] > threshold).sum())
        low, high = binom.ppf(0.0005, group.sum(), rate), binom.ppf(0.9995, group.sum(), rate)
        assert low <= hits <= high, (q, rate, hits / group.sum())


def test_rmia_majority_vote_on_a_hand_computed_case():
    ratio_x = np.array([[2.0, 2.0, 0.5], [0.1, 0.1, 0.1]])
    ratio_z = np.array([[1.0, 1.0, 1.0], [3.0, 1.0, 0.4], [1.5, 3.0, 3.0], [0.05, 0.05, 0.05]])
    # x0 vs z: (≤ in 3 of 3) (2 of 3) (1 of 3) (3 of 3) → majority in z0, z1, z3; x1: only z3
    np.testing.assert_allclose(rmia_multi_query_scores(ratio_x, ratio_z), [0.75, 0.25])
    # γ = 2 halves ratio_x: x0 → [1, 1, .25]: z0 (2 of 3), z1 (1 of 3), z3 (3 of 3)
    np.testing.assert_allclose(rmia_multi_query_scores(ratio_x, ratio_z, gamma=2.0), [0.5, 0.25])
    # an even Q: exactly half the queries is not a majority
    np.testing.assert_allclose(rmia_multi_query_scores(np.array([[2.0, 0.5]]), np.array([[1.0, 1.0]])), [0.0])


def test_rmia_majority_vote_equals_brute_force_in_any_block_size_and_the_one_query_rule():
    rng = np.random.default_rng(4)
    ratio_x, ratio_z = rng.lognormal(size=(37, 5)), rng.lognormal(size=(23, 5))
    brute = np.array([np.mean([(ratio_z[j] <= ratio_x[i] / 1.3).sum() > 2.5 for j in range(23)]) for i in range(37)])
    for cells in (1, 7, 115, 1 << 24):
        np.testing.assert_allclose(rmia_multi_query_scores(ratio_x, ratio_z, gamma=1.3, block_cells=cells), brute)
    np.testing.assert_allclose(rmia_multi_query_scores(ratio_x[:, :1], ratio_z[:, :1]), rmia_scores(ratio_x[:, 0], ratio_z[:, 0]))


def test_rmia_attack_with_augmentations_follows_its_definition():
    rng = np.random.default_rng(5)
    n, nz, k, q = 30, 40, 4, 2
    p = lambda *shape: rng.uniform(0.05, 0.95, size=shape)  # noqa: E731
    target_x, target_z, reference_x, reference_z = p(n, q), p(nz, q), p(n, k, q), p(nz, k, q)
    key = "confidence@flip"
    reference = ReferenceSignals({key: reference_x}, rng.random((n, k)) < 0.5, population_target={key: target_z},
                                 population_signals={key: reference_z}, population_in_mask=rng.random((nz, k)) < 0.5)
    attack = RMIAAttack(augment={"flip": True, "shift": 0})
    assert attack.display_name == "rmia[online,confidence,aug=flip]"
    scores = attack.fit().score({key: target_x}, np.zeros(n, int), reference)
    expected = rmia_multi_query_scores(target_x / reference_x.mean(axis=1), target_z / reference_z.mean(axis=1))
    np.testing.assert_allclose(scores, expected)
    np.testing.assert_allclose(attack.log_likelihood_ratios_, np.log(target_x / reference_x.mean(axis=1)).sum(axis=1))
    with pytest.raises(DataError, match=r"takes 2 queries per record; got target \(30, 3\)"):
        attack.score({key: p(n, 3)}, np.zeros(n, int), reference)
    with pytest.raises(CapabilityError, match="needs the target's signal 'confidence@flip,shift=1' on population records"):
        RMIAAttack(augment=True).score({"confidence@flip,shift=1": target_x}, np.zeros(n, int), reference)


# --- through the pipeline: collect, score, report -----------------------------------------------------------------

AUGMENT = Augmentations(flip=True, shift=1)
KEY = augmented_signal_key("logit_confidence", AUGMENT)


@pytest.fixture(scope="module")
def image_audit(tmp_path_factory):
    """8×8 one-channel images of two classes (a bright left or right half, plus noise); a target and 4 reference models
    (logistic regressions on the 64 pixel columns, trained on their records and those records' mirrors); members,
    non-members and population records of 120 each."""
    from sklearn.linear_model import LogisticRegression

    from privaudit.reference.plan import ReferencePlan
    from privaudit.reference.recipes import SklearnRecipe
    from privaudit.targets import SklearnTarget

    rng = np.random.default_rng(7)
    n = 360
    labels = rng.integers(0, 2, n)
    pixels = rng.normal(scale=1.0, size=(n, 1, 8, 8))
    pixels[labels == 1, :, :, :4] += 0.4
    pixels[labels == 0, :, :, 4:] += 0.4
    records = image_records(pixels, labels)
    order = rng.permutation(n)
    data = AuditData(records, np.sort(order[:120]), np.sort(order[120:240]), np.sort(order[240:]))
    model = LogisticRegression(C=10.0, max_iter=3000).fit(records.features.iloc[data.members], labels[data.members])
    plan = ReferencePlan(SklearnRecipe(LogisticRegression(C=10.0, max_iter=3000)), n_models=4, mode="online", train_size=120,
                         store=tmp_path_factory.mktemp("augment-store"), backend="sequential")
    return data, SklearnTarget(model, name="pixels"), plan


class CountingTarget:
    """A target that counts the rows it is asked about, per ``predict`` call."""

    def __init__(self, target):
        self.target, self.name, self.output_kind, self.calls = target, target.name, target.output_kind, []

    def predict(self, records):
        self.calls.append(len(records))
        return self.target.predict(records)


def test_collect_asks_the_target_and_reference_models_about_q_copies(image_audit):
    from privaudit.pipeline.collect import collect

    data, target, plan = image_audit
    counting = CountingTarget(target)
    audited = data.records.subset(data.audited)
    attacks = [LiRAAttack(), LiRAAttack(augment=True), LiRAAttack(mode="offline", augment=True), RMIAAttack(augment=True)]
    collected = collect(counting, data, audited, attacks, plan=plan, seed=0)
    n, nz, q, k = len(audited), data.population.size, AUGMENT.n_queries, plan.n_models
    # each distinct augmentation once however many attacks use it: plain audited, plain population, augmented audited, augmented population
    assert sorted(counting.calls) == sorted([n, nz, n * q, nz * q])
    assert collected.signals[KEY].shape == (n, q) and collected.population_signals["confidence@flip,shift=1"].shape == (nz, q)
    reference = collected.reference
    assert reference.signals[KEY].shape == (n, k, q) and reference.population_signals["confidence@flip,shift=1"].shape == (nz, k, q)
    # query 0 is the record itself: the (n, Q) and (n, K, Q) arrays are record-major and line up with the plain query
    np.testing.assert_allclose(collected.signals[KEY][:, 0], collected.signals["logit_confidence"])
    np.testing.assert_allclose(reference.signals[KEY][:, :, 0], reference.signals["logit_confidence"])
    mirrored = target.predict(AUGMENT.apply(audited.subset(np.arange(3))))
    np.testing.assert_allclose(collected.signals["confidence@flip,shift=1"][:3].ravel(), mirrored[np.arange(3 * q), np.repeat(audited.labels[:3], q)])
    entry = collected.queries.by_source["augmentations:flip,shift=1"]
    assert entry["total"] == (n + nz) * q and entry["per_record"] == q and entry["records"] == n + nz and entry["calls"] == 2


def test_an_audit_on_image_records_scores_augmented_attacks_and_counts_q_queries_per_record(image_audit, tmp_path):
    from privaudit.pipeline import audit
    from privaudit.report.formatting import queries_text

    data, target, plan = image_audit
    attacks = [{"name": "lira", "mode": "offline"}, {"name": "lira", "mode": "offline", "augment": True},
               {"name": "lira", "augment": {"flip": True, "shift": 0}}, {"name": "rmia", "augment": True}]
    result = audit(data, [target], attacks, reference=plan, n_bootstrap=20)
    names = [r.attack for r in result.results]
    # 4 models (2 per side) is below LiRA's per-example threshold, so variance auto resolves to global and the names say so
    assert names == ["lira[offline,global variance,logit_confidence]", "lira[offline,global variance,logit_confidence,aug=flip,shift=1]",
                     "lira[online,global variance,logit_confidence,aug=flip]", "rmia[online,confidence,aug=flip,shift=1]"]
    for r in result.results:
        assert r.scores.shape == (data.audited.size,) and np.all(np.isfinite(r.scores))
    report = result.write_report(tmp_path / "report")
    document = json.loads((tmp_path / "report" / "report.json").read_text())
    queries = document["targets"][0]["queries"]
    n, nz = data.audited.size, data.population.size
    assert queries["by_source"]["augmentations:flip,shift=1"]["per_record"] == 18
    assert queries["by_source"]["augmentations:flip"]["total"] == 2 * n  # online LiRA: audited records only
    assert queries["total"] == (n + nz) + 18 * (n + nz) + 2 * n
    assert "augmented copies (flip,shift=1) 18" in queries_text(result.targets[0].queries)
    assert report is not None


def test_augment_on_tabular_records_is_a_one_line_error_before_any_query(image_audit):
    from privaudit.pipeline.collect import collect

    data, target, plan = image_audit
    tabular = RecordSet(data.records.ids, data.records.features, data.records.labels, data.records.classes)  # no image_shape
    tabular_data = AuditData(tabular, data.members, data.nonmembers, data.population)
    counting = CountingTarget(target)
    with pytest.raises(CapabilityError) as info:
        collect(counting, tabular_data, tabular.subset(tabular_data.audited), [LiRAAttack(augment=True)], plan=plan)
    message = str(info.value)
    assert message.startswith("attack 'lira[online,logit_confidence,aug=flip,shift=1]': augmentations need image records") and "\n" not in message
    assert counting.calls == []


@pytest.mark.slow
def test_cli_refuses_augment_on_tabular_data_in_one_line(tmp_path):
    import subprocess
    import sys

    import skops.io as sio
    import yaml
    from sklearn.tree import DecisionTreeClassifier

    from privaudit.datasets import make_synthetic_tabular

    frame = make_synthetic_tabular(90, seed=1)
    frame["split"] = ["member"] * 30 + ["nonmember"] * 30 + ["population"] * 30
    frame.to_csv(tmp_path / "records.csv", index=False)
    features = [c for c in frame.columns if c.startswith("x")]
    sio.dump(DecisionTreeClassifier(random_state=0).fit(frame[features][:30], frame.label[:30]), tmp_path / "tree.skops")
    config = {"data": {"path": "records.csv", "label": "label", "id_column": "record_id", "features": features, "membership": {"column": "split"}},
              "targets": [{"name": "tree", "type": "sklearn", "path": "tree.skops", "trusted_types": ["sklearn.tree._tree.Tree"],
                           "reference": {"models": 2}}],
              "attacks": [{"name": "lira", "mode": "offline", "augment": True}],
              "compute": {"backend": "sequential", "store": "cache"}, "output": "report"}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run = subprocess.run([sys.executable, "-c", "from privaudit.cli import main; main()", "audit", str(tmp_path / "audit.yaml"), "--quiet"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "augmentations need image records" in lines[0] and "lira[offline,logit_confidence,aug=flip,shift=1]" in lines[0]
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())  # refused before any reference model was trained
