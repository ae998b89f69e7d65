"""What browser journeys share: where Chromium is, how to launch it, how to sign in, where screenshots go.

The fixtures (``browser``, one per test module, and ``page``) live in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

# The system's Chromium: `playwright install` downloads a browser, which CI machines and
# internal networks often cannot do.
CHROMIUM = os.environ.get("PORTAL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_available() -> bool:
    return Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)


def login(page, live_server, username: str, password: str, *, next_path: str = "/") -> None:
    """Sign in through the login form, as a person would, and wait for the page it leads to."""
    url = f"{live_server.url}/accounts/login/"
    if next_path:
        url += f"?next={next_path}"
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    if "/accounts/login/" in page.url:
        raise AssertionError(f"signing in as {username!r} failed; still on {page.url}")


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot under test-artifacts/ at the repository root."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def person_page(browser, live_server, user, *, next_path="/", viewport=DESKTOP):
    """A page in its own browser context, signed in as ``user`` (whose password the test set to "pw")."""
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(15_000)
    page = context.new_page()
    login(page, live_server, user.username, "pw", next_path=next_path)
    return page


def no_overflow(page, label: str) -> None:
    """Nothing on the page is wider than the screen (tables scroll inside their own box)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        culprits = page.evaluate("""() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 8).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + [...e.classList].join('.'))""")
        raise AssertionError(f"{label} is {overflow}px wider than the screen: {culprits}")
