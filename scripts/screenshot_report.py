"""Render a run's report.html (or any HTML file, such as a sweep's sweep.html) in headless Chromium and save a
full-page PNG (for docs/report_adult.png).

    .venv/bin/python scripts/screenshot_report.py reports/adult-<timestamp> docs/report_adult.png
    .venv/bin/python scripts/screenshot_report.py reports/adult-sweep-<timestamp>/sweep.html sweep_page.png

Uses the browser test's DevTools driver (tests/browser.py) and fails if the page logs a console error or an
image does not load.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser import check_page  # noqa: E402


def main() -> None:
    given, target = Path(sys.argv[1]), Path(sys.argv[2])
    page = check_page(given / "report.html" if given.is_dir() else given, target)
    if page.console_errors or page.broken_images:
        raise SystemExit(f"console errors {page.console_errors}, broken images {page.broken_images}")
    print(f"{target}: {page.images} images, no console errors")


if __name__ == "__main__":
    main()
