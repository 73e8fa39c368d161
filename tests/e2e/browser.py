"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium, driven by Playwright.

`make chromium` (run by `make test`) and `.ci/run` install the package when it is missing; without
it the browser tests skip while developing and fail under CI and `make test` (tests/conftest.py).
Playwright's own browser downloads are not used.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync",
]


@contextmanager
def launch_chromium() -> Iterator:
    """A Playwright `Browser` on the system Chromium; without it the test skips (fails under CI).

    `launch` (not `launch_persistent_context`) gives every browser a fresh, temporary user-data-dir
    that Playwright deletes on close, and every `browser.new_context()` its own cookies and storage.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (make chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
