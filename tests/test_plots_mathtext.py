"""Plot labels come from user data: "$...$" in a name is drawn as written, never parsed as matplotlib mathtext."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from privaudit.pipeline import AttackResult
from privaudit.metrics.groups import GroupMetrics
from privaudit.report.plots import group_auc_svg, histogram_svg, roc_svg
from privaudit.report.sweep import frontier_svg

# an unknown TeX command makes mathtext raise at draw time; a valid one would be silently rendered as maths
BROKEN = r"$\undefinedcommand{x}$"
VALID = "$x^2$"


def _result(attack: str, seed: int) -> AttackResult:
    rng = np.random.default_rng(seed)
    return AttackResult(target=f"model {BROKEN}", attack=attack, signal="loss", scores=rng.normal(size=60), metrics=SimpleNamespace(auc=0.61, operating_points={}))


@pytest.fixture
def is_member() -> np.ndarray:
    return np.r_[np.ones(30, bool), np.zeros(30, bool)]


def test_roc_and_histogram_draw_dollar_names_as_text(is_member):
    results = [_result(f"loss {BROKEN}", 0), _result(f"rmia {VALID}", 1)]
    svg = roc_svg(results, is_member, plot_id="roc", title=f"target {BROKEN}")
    assert r"\undefinedcommand{x}" in svg and VALID in svg
    svg, clipping = histogram_svg(results[0], is_member, plot_id="hist", title=f"folder {VALID}")
    assert VALID in svg and r"\undefinedcommand" in svg and clipping["high"] > clipping["low"]


def test_group_plot_draws_dollar_group_values_as_text():
    metrics = SimpleNamespace(auc=0.6, auc_ci=(0.55, 0.65))
    groups = [GroupMetrics(BROKEN, 20, 20, False, metrics=metrics), GroupMetrics(VALID, 20, 20, False, metrics=metrics),
              GroupMetrics("$$", 1, 1, True, reason="too small")]
    svg = group_auc_svg(groups, 0.6, plot_id="groups", title=f"column {BROKEN}")
    assert r"\undefinedcommand{x}" in svg and VALID in svg


def test_sweep_frontier_draws_dollar_setting_names_as_text():
    points = [{"name": f"C={c} {BROKEN}", "x": 0.7 + 0.05 * i, "y": 0.1 + 0.05 * i, "on_front": i % 2 == 0, "y_ci": None} for i, c in enumerate((0.1, 1, 10))]
    svg = frontier_svg(points, plot_id="frontier", title=f"sweep {VALID}", ylabel=f"TPR {BROKEN}", percent_y=True, chance=0.01)
    assert r"\undefinedcommand{x}" in svg and VALID in svg
