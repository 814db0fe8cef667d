"""Real headless chromium against the app on a live server in a thread.

Fixtures for every browser test of the project:

    browser      a fresh chromium (own temp profile) per test; each xdist worker runs its own.
                 Page JavaScript off: @pytest.mark.parametrize("browser", [{"javascript": False}],
                 indirect=True) (WebDriver itself still works)
    screenshot   screenshot("name") saves the whole page to tests/artifacts/<test>-<name>.png;
                 screenshot("name", as_laid_out=True) keeps the page's width (a phone-sized page
                 stays phone-sized) and saves tests/artifacts/<name>.png
    sign_in      sign_in(live_server, email, password) through the real login form;
                 totp_secret=... also passes the second factor (CERT staff)

Mark browser tests with ``@pytest.mark.browser``.
"""
from __future__ import annotations

import base64
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.integration.staff_login import next_code

CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
WAIT_SECONDS = 15  # upper bound for page loads and element lookups, not a sleep


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) and os.access(path, os.X_OK)):
            return f"{path} is missing: install Debian's chromium and chromium-driver (make browser)"
    return None


@pytest.fixture
def browser(tmp_path, request):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-extensions", "--lang=en-US", "--window-size=1366,900",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    if not getattr(request, "param", {}).get("javascript", True):
        options.add_argument("--blink-settings=scriptEnabled=false")
    service = Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT_SECONDS * 2)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def screenshot(browser, request):
    """Save the full page (not just the viewport) under tests/artifacts/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)

    def save(name: str, as_laid_out: bool = False) -> Path:
        if as_laid_out:
            return _capture_as_laid_out(browser, ARTIFACTS / f"{name}.png")
        path = ARTIFACTS / f"{prefix}-{name}.png"
        width = browser.execute_script("return document.documentElement.scrollWidth")
        height = browser.execute_script("return document.documentElement.scrollHeight")
        size = browser.get_window_size()
        browser.set_window_size(max(width, 1366), max(height + 120, 900))
        browser.execute_script("window.scrollTo(0, 0)")
        try:
            browser.save_screenshot(str(path))
        finally:
            browser.set_window_size(size["width"], size["height"])
        return path

    return save


def _capture_as_laid_out(browser, path: Path) -> Path:
    """The whole page at the viewport's width, through the DevTools protocol: resizing the window
    would lay the page out again at another width."""
    width = browser.execute_script("return window.innerWidth")
    height = browser.execute_script("return document.documentElement.scrollHeight")
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def wait_for(browser, condition, timeout: float = WAIT_SECONDS):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(condition)


def leave_page(browser, action) -> None:
    """Do ``action`` (a click or key that submits a form or follows a link) and wait until the
    next page has replaced this one: the page being left may already show what the test looks for.

    Selenium's staleness_of misses one way chromium reports a replaced page: while the old
    document is torn down, a call on its root fails with "does not belong to the document"
    instead of a stale-element error."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By

    page = browser.find_element(By.TAG_NAME, "html")
    action()

    def replaced(_driver) -> bool:
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    wait_for(browser, replaced)


def type_datetime_local(element, value) -> None:
    """Type a datetime into <input type=datetime-local> as a person does (en-US segments:
    month, day, year, then hour, minute, AM/PM); the browser was started with --lang=en-US."""
    from selenium.webdriver.common.keys import Keys

    element.send_keys(value.strftime("%m%d%Y"))
    element.send_keys(Keys.TAB)
    element.send_keys(value.strftime("%I%M%p"))


@pytest.fixture
def sign_in(browser):
    """Sign in through the real form; returns once the signed-in page has loaded."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC

    def _sign_in(server, email: str, password: str = PASSWORD, totp_secret: str | None = None) -> None:
        browser.get(server.url + "/login")
        browser.find_element(By.ID, "email").send_keys(email)
        browser.find_element(By.ID, "password").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        if totp_secret is not None:
            wait_for(browser, EC.presence_of_element_located((By.ID, "code"))).send_keys(next_code(totp_secret))
            browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".account .who-name")))

    return _sign_in
