"""The "Check the inputs" warning (accuracy on members ≤ their majority-class share) names its legitimate exceptions (review of issue 17).

A class-weighted model on imbalanced classes is below the majority share on its own members by design, and a
DP-SGD model at a small ε may learn next to nothing: the warning must not tell either that its scores describe
the input rather than the model.
"""

import numpy as np

import privaudit


def test_the_warning_names_class_weights_and_dp_as_legitimate_and_does_not_overrule_them():
    from privaudit.report.verdict import untrained_input_sentence

    rng = np.random.default_rng(5)
    n = 400
    labels_m, labels_n = (rng.random(n) < 0.9).astype(int), (rng.random(n) < 0.9).astype(int)
    # a class-weighted model: right on every rare-class member, right on only 80 % of the common class → 82 % < 90 %
    logits = np.where(((labels_m == 1) & (rng.random(n) < 0.8))[:, None] | (labels_m == 0)[:, None],
                      np.eye(2)[labels_m] * 2.0, np.eye(2)[1 - labels_m] * 2.0)
    result = privaudit.audit_outputs(members=logits, nonmembers=np.eye(2)[labels_n] * 2.0, labels_members=labels_m,
                                     labels_nonmembers=labels_n, kind="logits", n_bootstrap=50)
    sentence = untrained_input_sentence(result, result.targets[0].name)
    assert sentence is not None and sentence.startswith("Check the inputs")
    assert "class weights" in sentence and "DP-SGD" in sentence and "the audit stands" in sentence
    assert "A trained model does better on its training records" not in sentence
