"""IBM ART 1.20's membership-inference attacks around the same torch module privaudit audits (for ``bench_peers.py``).

Every function takes encoded inputs ``x`` (float32, shape (n, d), values in [0, 1]) and integer labels ``y`` and
returns one membership score per record (higher = more likely a member), with the target queries it spent,
counted by a :class:`peer_protocol.QueryCounter` on the wrapper's ``predict``. How each attack is run follows ART's
README and notebooks (``attack_membership_inference.ipynb``, ``attack_membership_inference_shadow_models.ipynb``,
``label_only_membership_inference.ipynb``); where a score is needed and ART returns a decision, the score is the
quantity ART thresholds (the HopSkipJump distance; correct / wrong for the gap attack).
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager

import numpy as np

INSTALL_HINT = "the peer benchmark needs IBM ART: pip install -e '.[bench]' (adversarial-robustness-toolbox==1.20.1)"


def require_art():
    """ART's membership-inference module, or SystemExit with the install line."""
    try:
        import art  # noqa: F401
        from art.attacks.inference import membership_inference
    except ImportError:
        raise SystemExit(INSTALL_HINT) from None
    return membership_inference


def art_classifier(module, n_inputs: int, n_classes: int, *, epochs: int, batch_size: int, learning_rate: float, counter=None):
    """ART ``PyTorchClassifier`` around ``module`` (outputs logits), inputs clipped to [0, 1].

    ``fit`` defaults to the target's recipe (``epochs``, ``batch_size``, Adam with ``learning_rate``), so ART's
    ``ShadowModels`` (which calls ``fit(x, y)``) trains shadow models like the target. ``counter`` (instance only,
    so shadow clones do not count) sees every ``predict`` batch: the target's queries.
    """
    import torch
    from art.estimators.classification import PyTorchClassifier

    class CountedClassifier(PyTorchClassifier):
        counter = None

        def predict(self, x, batch_size: int = 128, training_mode: bool = False, **kwargs):
            if self.counter is not None:
                self.counter.add(x)
            x = np.asarray(x, dtype=np.float32)  # HopSkipJump hands float64 arrays; the module's weights are float32
            return super().predict(x, batch_size=batch_size, training_mode=training_mode, **kwargs)

        def fit(self, x, y, batch_size: int = batch_size, nb_epochs: int = epochs, **kwargs):
            return super().fit(x, y, batch_size=batch_size, nb_epochs=nb_epochs, **kwargs)

    classifier = CountedClassifier(model=module, loss=torch.nn.CrossEntropyLoss(), optimizer=torch.optim.Adam(module.parameters(), lr=learning_rate),
                                   input_shape=(n_inputs,), nb_classes=n_classes, clip_values=(0.0, 1.0))
    classifier.counter = counter
    return classifier


def seed_everything(seed: int) -> None:
    """ART draws from numpy's global generator (HopSkipJump, scikit-learn attack models) and torch's (nn attack model)."""
    import torch

    np.random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def seeded_fresh_random_states(seed: int):
    """Make ``np.random.RandomState()`` without a seed draw from a seeded sequence while the block runs.

    ART 1.20's HopSkipJump draws its starting points from ``np.random.RandomState()`` created afresh for each
    record (``hop_skip_jump.py``, ``_init_sample``), seeded from the operating system: no global seed reaches it,
    so two runs differ. Inside this block each such generator gets the next seed of a sequence fixed by ``seed``
    (a subclass, so ``isinstance`` checks still hold).
    """
    original = np.random.RandomState
    counter = itertools.count()

    class SeededRandomState(original):
        def __init__(self, state=None):
            super().__init__(int(np.random.default_rng([seed, next(counter)]).integers(2**32)) if state is None else state)

    np.random.RandomState = SeededRandomState
    try:
        yield
    finally:
        np.random.RandomState = original


def black_box(classifier, attack_model_type: str, x_train_m, y_train_m, x_train_n, y_train_n, x_eval, y_eval, seed: int) -> np.ndarray:
    """``MembershipInferenceBlackBox`` trained on labelled members and non-members (ART's README), scores on ``x_eval``."""
    mi = require_art()
    seed_everything(seed)
    attack = mi.MembershipInferenceBlackBox(classifier, attack_model_type=attack_model_type)
    attack.fit(x_train_m, y_train_m, x_train_n, y_train_n)
    return np.asarray(attack.infer(x_eval, y_eval, probabilities=True), dtype=float).reshape(len(x_eval), -1)[:, -1]


def shadow_black_box(classifier, shadow_template, x_population, y_population, n_shadow: int, x_eval, y_eval, seed: int) -> np.ndarray:
    """ART's ``ShadowModels`` (``n_shadow`` models, disjoint population data, half IN) feeding ``MembershipInferenceBlackBox``.

    As ART's shadow-model notebook: the shadow dataset's member / non-member predictions train a random-forest
    attack model, which then scores the target's predictions on ``x_eval``.
    """
    mi = require_art()
    seed_everything(seed)
    shadows = mi.ShadowModels(shadow_template, num_shadow_models=n_shadow, disjoint_datasets=True, random_state=seed)
    (mx, my, mp), (nx, ny, npred) = shadows.generate_shadow_dataset(x_population, y_population, member_ratio=0.5)
    attack = mi.MembershipInferenceBlackBox(classifier, attack_model_type="rf")
    attack.fit(mx, my, nx, ny, mp, npred)
    return np.asarray(attack.infer(x_eval, y_eval, probabilities=True), dtype=float).reshape(len(x_eval), -1)[:, -1]


def gap(classifier, x_eval, y_eval) -> np.ndarray:
    """``LabelOnlyGapAttack``: member iff the target labels the record correctly (its decision is the score, 0 or 1)."""
    mi = require_art()
    return np.asarray(mi.LabelOnlyGapAttack(classifier).infer(x_eval, y_eval), dtype=float)


def boundary_distance(classifier, x_cal_m, y_cal_m, x_cal_n, y_cal_n, x_eval, y_eval, hsj: dict, seed: int) -> tuple[np.ndarray, float]:
    """``LabelOnlyDecisionBoundary``: τ calibrated ART's way on labelled records, and the HopSkipJump L2 distance per record.

    ``calibrate_distance_threshold`` runs HopSkipJump on the calibration members and non-members and picks the
    distance τ of best accuracy. ``infer`` thresholds the same distance (0 for misclassified records) at τ; the
    score returned here is that distance, computed as ``infer`` computes it (ART's own HopSkipJump, same
    arguments), with HopSkipJump's unseeded generators seeded (:func:`seeded_fresh_random_states`). Returns ``(distances, tau)``.
    """
    from art.attacks.evasion.hop_skip_jump import HopSkipJump
    from art.utils import check_and_transform_label_format

    mi = require_art()
    seed_everything(seed)
    attack = mi.LabelOnlyDecisionBoundary(classifier)
    with seeded_fresh_random_states(seed):
        attack.calibrate_distance_threshold(x_cal_m, y_cal_m, x_cal_n, y_cal_n, **hsj)
    seed_everything(seed + 1)
    onehot = check_and_transform_label_format(y_eval, nb_classes=classifier.nb_classes)
    with seeded_fresh_random_states(seed + 1):
        x_adv = HopSkipJump(classifier=classifier, targeted=False, **hsj).generate(x=x_eval, y=onehot)
    distance = np.linalg.norm((x_adv - x_eval).reshape(len(x_eval), -1), ord=2, axis=1)
    distance[np.argmax(classifier.predict(x_eval), axis=1) != np.asarray(y_eval)] = 0.0
    return distance, float(attack.distance_threshold_tau)
