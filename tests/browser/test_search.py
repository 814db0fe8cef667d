"""Search in a real browser: an analyst types a defanged value into the header's box on any page,
reads the groups, and pivots from an observable on a report to everything else that holds it;
CERT staff also read who reported it. Screenshots are kept under tests/artifacts/."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from tests.browser.conftest import leave_page, wait_for
from tests.integration.staff_login import enrol
from tests.integration.warning_world import report

pytestmark = pytest.mark.browser


@pytest.fixture
def orgs(factory):
    return {"cert": factory.cert(), "bank": factory.org("First Bank"), "bank2": factory.org("Second Bank")}


def _search_from_header(browser, text: str) -> None:
    box = browser.find_element(By.CSS_SELECTOR, "form.topsearch input[name=q]")
    leave_page(browser, lambda: box.send_keys(text, Keys.ENTER))
    wait_for(browser, EC.presence_of_element_located((By.ID, "search-form")))


def _section(browser, name: str) -> str:
    return browser.find_element(By.ID, f"search-{name}").text


def test_a_member_searches_from_the_header_and_pivots_from_a_report(app, factory, orgs, live_server, browser,
                                                                     sign_in, screenshot):
    user = factory.user(orgs["bank"], email="soc@first.example")
    mine = report(app, orgs["bank"], [("url", "https://login.evil.example/pay"), ("ipv4-addr", "198.51.100.23")],
                  title="Phishing kit on a lookalike login page")
    report(app, orgs["bank"], [("email-addr", "ceo@mail.evil.example")], title="CEO fraud mails")
    report(app, orgs["bank2"], [("ipv4-addr", "198.51.100.23")], title="The other bank's secret report")
    sign_in(live_server, user.email)

    _search_from_header(browser, "evil[.]example")
    assert browser.current_url.startswith(live_server.url + "/search?q=evil")
    reports = _section(browser, "reports")
    assert "Phishing kit on a lookalike login page" in reports and "CEO fraud mails" in reports
    assert "https://login.evil.example/pay" in reports  # what matched
    assert "Searched the domain, its subdomains" in browser.find_element(By.ID, "search-kind").text
    assert not browser.find_elements(By.ID, "search-sightings")
    screenshot("member-domain")

    browser.get(f"{live_server.url}/incidents/{mine}")
    leave_page(browser, browser.find_element(
        By.CSS_SELECTOR, "#observables a.obs-link[href='/search?q=198.51.100.23']").click)
    reports = wait_for(browser, EC.presence_of_element_located((By.ID, "search-reports"))).text
    assert "Phishing kit on a lookalike login page" in reports
    assert "other bank" not in browser.page_source

    _search_from_header(browser, "10.0.0.0/8")
    assert "too wide" in browser.find_element(By.ID, "search-error").text
    assert browser.find_element(By.ID, "search-q").get_attribute("value") == "10.0.0.0/8"


def test_staff_read_who_reported_a_value(app, factory, orgs, live_server, browser, sign_in, screenshot):
    analyst = factory.user(orgs["cert"], "cert-analyst", email="analyst@cert.example")
    secret = enrol(app, analyst)
    report(app, orgs["bank"], [("ipv4-addr", "198.51.100.23")], title="Bank sees the C2")
    report(app, orgs["bank2"], [("ipv4-addr", "198.51.100.23"), ("ipv4-addr", "198.51.100.24")],
           title="Second bank sees it")
    sign_in(live_server, analyst.email, totp_secret=secret)

    _search_from_header(browser, "198.51.100.0/24")
    reports = _section(browser, "reports")
    assert "Bank sees the C2" in reports and "Second bank sees it" in reports
    who = _section(browser, "sightings")
    assert "First Bank" in who and "Second Bank" in who
    screenshot("staff-cidr")
