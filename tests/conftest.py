"""Fixtures for browser journeys: one headless Chromium per test module, a fresh page per test."""

from __future__ import annotations

import os

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, chromium_available

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


@pytest.fixture(scope="module")
def browser():
    if not chromium_available():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}; set PORTAL_CHROMIUM to run browser journeys")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in the test's thread, so Django takes
    # every ORM call the test makes alongside it (factories, assertions) for one made from async
    # code. Allowed only while a browser is open: module scope ends the loop, and the variable,
    # before tests that do not drive a browser (and `check --deploy` in a subprocess) run.
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.fixture
def page(browser):
    """A page in its own browser context (own cookies), at desktop size."""
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
