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
    page = check_page(folder / HTML_REPORT_NAME, screenshot)
    assert page.console_errors == []
    assert page.images == 5
    assert page.broken_images == []
    assert which.upper() in page.text
    assert screenshot.read_bytes().startswith(b"\x89PNG")
