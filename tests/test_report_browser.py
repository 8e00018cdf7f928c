"""The reviewer's report in a real browser: headless Chromium loads it without console errors and with every
image decoded. The screenshot is kept as a test artefact (build/test-artefacts/)."""
from __future__ import annotations

import pytest

from privsynth.report.html import HTML_REPORT_NAME
from tests.browser import artefact_dir, check_page, chromium_path

# .ci/run installs Debian's chromium when it is missing, so CI always runs these
pytestmark = pytest.mark.skipif(chromium_path() is None, reason="chromium not installed (Debian: apt-get install "
                                "chromium; .ci/run does it)")


@pytest.mark.parametrize("which", ["released", "blocked"])
def test_report_opens_in_chromium(which, released_run, blocked_run):
    folder = released_run if which == "released" else blocked_run
    screenshot = artefact_dir() / f"report_{which}.png"
    page = check_page(folder / "review" / HTML_REPORT_NAME, screenshot)
    assert page.console_errors == []
    assert page.images == 5
    assert page.broken_images == []
    assert which.upper() in page.text and "INTERNAL REVIEW PACKAGE" in page.text
    assert screenshot.read_bytes().startswith(b"\x89PNG")


def _sweep_point(epsilon: float, attribute_high: float) -> dict:
    passed = attribute_high <= 0.25
    return {"epsilon": epsilon, "epsilon_spent": epsilon, "decision": "released" if passed else "blocked",
            "failed_checks": [] if passed else [{"check": "attribute_inference:income", "reason": "upper end"}],
            "attacks": [{"name": "attribute_inference:income", "estimate": attribute_high / 2,
                         "ci": [0.0, attribute_high], "threshold": 0.25, "passed": passed},
                        {"name": "membership_density_auc", "estimate": 0.51, "ci": [0.49, 0.53], "threshold": 0.6,
                         "passed": True}],
            "utility": {"tvd_2way": {"value": 0.2 / epsilon, "ci": None, "threshold": 0.2, "passed": True}},
            "timings": {"fit": 10.0, "attacks": 5.0}}


def test_sweep_page_opens_in_chromium(tmp_path):
    from privsynth.report.html import render_sweep_html
    from privsynth.report.plots import sweep_chart

    points = [_sweep_point(1.0, 0.27), _sweep_point(3.0, 0.2)]
    document = {"sweep": "t-sweep", "threat_model": "t", "dataset": "t", "generator": "aim", "ledger": "ledger.sqlite",
                "epsilon_booked": 4.0, "points": points, "command": "privsynth sweep t.yaml --epsilons 1,3"}
    html = tmp_path / "sweep.html"
    html.write_text(render_sweep_html(document, sweep_chart(points)))
    screenshot = artefact_dir() / "sweep.png"
    page = check_page(html, screenshot)
    assert page.console_errors == [] and page.images == 1 and page.broken_images == []
    assert "blocked: attribute_inference:income" in page.text and "epsilon 3" in page.text


def test_a_page_that_cannot_load_is_an_error_not_a_clean_check(tmp_path):
    # Chromium's own "file not found" page has images and no console error: it must not pass as a report
    with pytest.raises(FileNotFoundError, match="no such file"):
        check_page(tmp_path / "missing.html")
