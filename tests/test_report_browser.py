"""Open report.html in headless Chromium: no console errors, every plot laid out, verdict visible.

Needs the ``playwright`` Python package and a Chromium binary on PATH
(``apt-get install chromium``); skipped without them, except under CI where
their absence is a failure.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

import privaudit
from privaudit import AuditData, PrecomputedTarget, RecordSet, SklearnTarget, audit, check_records, make_synthetic_tabular
from privaudit.metrics.groups import age_bands, by_column
from privaudit.report import write_report

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required under CI)")
    pytest.skip(reason)


def _chromium() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright is not installed: pip install 'privaudit[test]'")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _missing("chromium not found on PATH: apt-get install chromium")
    return path


def _audit_result():
    """Two targets: a forest that memorised its members, and outputs that ignore membership."""
    n_members, n_nonmembers, n_population = 500, 500, 500
    n = n_members + n_nonmembers + n_population
    frame = make_synthetic_tabular(n, seed=0)
    features = frame[[c for c in frame.columns if c.startswith("x")]]
    labels = frame["label"].to_numpy()
    records = RecordSet(frame["record_id"].to_numpy(), features, labels, (0, 1))
    order = np.random.default_rng(0).permutation(n)
    data = AuditData(records, np.sort(order[:n_members]), np.sort(order[n_members:n_members + n_nonmembers]), np.sort(order[n_members + n_nonmembers:]))
    forest = RandomForestClassifier(n_estimators=30, random_state=0).fit(features.iloc[data.members], labels[data.members])
    p = np.random.default_rng(1).dirichlet([1.0, 1.0], size=n)
    outputs = pd.DataFrame({"record_id": frame["record_id"], "0": p[:, 0], "1": p[:, 1]})
    targets = [SklearnTarget(forest, name="leaky_rf"), PrecomputedTarget(outputs, name="random_outputs")]
    audited = data.audited
    groups = {"x0 band": age_bands(features["x0"].to_numpy()[audited], (-np.inf, -0.5, 0.5, np.inf)),
              "label": by_column(labels[audited].astype(str))}
    result = audit(data, targets, n_bootstrap=100, seed=0, groups=groups)
    checked = records.subset(np.r_[data.members[:2], data.nonmembers[:2]])
    result.record_checks.append(check_records(targets[0], data, checked, attack="loss", null="real"))
    return result


#: table wrappers and containers whose content must fit: no column hidden behind a horizontal scroll
_CONTAINERS = "section, div.scroll, div.plots, table"


def _hidden_overflow(page) -> list:
    """``[selector, scrollWidth, clientWidth]`` of every container whose content is wider than its box, and of the page itself."""
    return page.evaluate(
        """(selector) => {
            const wide = (e) => e.scrollWidth > e.clientWidth + 1;
            const name = (e) => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ' in #' + ((e.closest('section') || {}).id || '');
            const found = Array.from(document.querySelectorAll(selector)).filter(wide).map(e => [name(e), e.scrollWidth, e.clientWidth]);
            const root = document.documentElement;
            return wide(root) ? found.concat([['page', root.scrollWidth, root.clientWidth]]) : found;
        }""",
        _CONTAINERS,
    )


def _assert_no_hidden_columns(page) -> None:
    assert page.viewport_size["width"] == 1200
    assert page.locator("div.scroll").count() > 0  # the attack tables' wrappers exist, so the check below checks something
    assert _hidden_overflow(page) == []


def _wide_table_result():
    """The widest attack table a config makes: ε column (coin-flip membership), four FPRs and the demo's long attack names."""
    import dataclasses

    rng = np.random.default_rng(0)

    def outputs(n, boost):
        labels = rng.integers(0, 2, n)
        logits = rng.normal(size=(n, 2))
        logits[np.arange(n), labels] += boost
        return logits, labels

    (m, ym), (n, yn), (p, yp) = outputs(1000, 2.0), outputs(1000, 0.5), outputs(1000, 0.5)
    result = privaudit.audit_outputs(members=m, nonmembers=n, labels_members=ym, labels_nonmembers=yn, population=p, labels_population=yp,
                                     kind="logits", n_bootstrap=50, membership_randomized=True, name="a_long_target_name_from_a_config")
    long_names = ["lira[offline,global variance,logit_confidence]", "reference_calibrated_loss[offline,difference,loss]", "rmia[offline,confidence]"]
    result.results = [dataclasses.replace(r, attack=long_names[i]) if i < len(long_names) else r for i, r in enumerate(result.results)]
    result.claims = {}
    return result


def test_wide_attack_table_has_no_hidden_columns_at_1200px(tmp_path):
    """At 1,200 px every column of the widest attack table is visible, "advantage" and "ε lower bound" included."""
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    result = _wide_table_result()
    paths = write_report(result, tmp_path / "report")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(paths["html"].resolve().as_uri(), wait_until="load")
            headers = page.locator("#target-0 table thead th")
            assert headers.count() == 3 + len(result.fprs) + 2  # attack, signal, AUC, one TPR per FPR, advantage, ε
            for name in ("advantage", "ε lower bound"):
                header = page.locator(f"#target-0 th:has-text('{name}')")
                header.scroll_into_view_if_needed()
                assert header.is_visible()
            _assert_no_hidden_columns(page)
            legend = page.locator("#target-0 svg.plot[data-plot='roc-0']").text_content()
            assert "attacks, one curve" in legend  # coinciding ROC curves share one legend entry
        finally:
            browser.close()


def test_report_renders_in_chromium_without_errors(tmp_path):
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    result = _audit_result()
    paths = write_report(result, tmp_path / "report")
    n_group_plots = paths["html"].read_text().count('data-plot="groups-')
    assert n_group_plots > 0
    expected_plots = 2 * len(result.targets) + n_group_plots  # ROC + score histogram per target, and the group charts

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
            page.goto(paths["html"].resolve().as_uri(), wait_until="load")

            assert "privaudit" in page.title()
            heading = page.locator("h1")
            assert heading.is_visible() and "membership-inference report" in heading.inner_text()
            verdicts = page.locator(".verdict")
            assert verdicts.count() == len(result.targets)
            assert verdicts.first.is_visible()
            leaky, other = verdicts.nth(0).inner_text(), verdicts.nth(1).inner_text()
            assert "membership leakage: the corrected test over all attacks finds leakage" in leaky  # graded: weak / clear / severe
            assert "max-T permutation" in leaky
            assert "No leakage detected" in other
            assert verdicts.nth(0).get_attribute("data-status") in ("weak", "clear", "severe")
            assert verdicts.nth(1).get_attribute("data-status") == "none_detected"
            link = page.locator("a[href='claims.md']")
            assert link.count() == 1 and link.is_visible()

            plots = page.query_selector_all("svg.plot")
            assert len(plots) == expected_plots
            for plot in plots:
                plot.scroll_into_view_if_needed()
                box = plot.bounding_box()
                assert box is not None and box["width"] > 0 and box["height"] > 0, f"plot {plot.get_attribute('data-plot')} has no size: {box}"

            group_tables = page.locator("div.group-slicing:has(h4:has-text('By x0 band')) table")
            assert group_tables.count() == len(result.targets)  # each target's best attack is sliced
            assert group_tables.first.locator("tbody tr").count() == 3
            group_tables.first.scroll_into_view_if_needed()
            assert group_tables.first.is_visible()
            check = page.locator("section.record-check")
            assert check.count() == 1
            check.scroll_into_view_if_needed()
            assert check.is_visible() and check.locator("tbody tr").count() == 4
            assert "this record was used in training" in check.inner_text() and "Power" in check.inner_text()

            _assert_no_hidden_columns(page)
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()

    assert errors == []
    assert (tmp_path / "report.png").stat().st_size > 0
