"""The console in a real browser: Debian's Chromium driven by Playwright, against the console and
the four services started once for the session.

Chromium is installed by `make test` (infra/chromium.sh) when missing; never downloaded by
Playwright. Without it these tests skip, saying why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support.infra import TEST_STATE
from tests.support.system import ConsoleProcess, System

CHROMIUM = Path(os.environ.get("CUTOVER_CHROMIUM", "/usr/bin/chromium"))
# Without the networking flags Chromium calls home at every start, and this machine's closed
# network refuses it, many times over.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
# `make screenshots` points this at docs/console, for the README.
SCREENSHOTS = Path(os.environ.get("CUTOVER_SCREENSHOTS_DIR", TEST_STATE / "screenshots"))


@pytest.fixture(scope="session")
def console(system: System) -> Iterator[ConsoleProcess]:
    process = ConsoleProcess(system)
    try:
        process.start()
        process.wait_ready()
        yield process
    finally:
        process.stop()


# Module scope: Playwright's synchronous API runs its own event loop in this thread, so it is ended
# before the asynchronous tests of other modules run theirs.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: run infra/chromium.sh (as root) or set CUTOVER_CHROMIUM"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    # bypass_csp: the accessibility check injects axe-core, which the console's own policy
    # (scripts from the console only) would rightly refuse.
    opened = browser.new_context(
        viewport={"width": 1280, "height": 800},
        timezone_id="Europe/Paris",
        locale="en-GB",
        bypass_csp=True,
        accept_downloads=True,
    )
    opened.set_default_timeout(15_000)
    yield opened
    opened.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
