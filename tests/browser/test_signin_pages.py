"""In a real browser: sign in, find the organization's reports, add a phase, sign out."""
from __future__ import annotations

from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from cert_share.actor import actor_for_user
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import Organization, User
from cert_share.schemas.incident import IncidentCreateSchema
from cert_share.services import intake
from tests.browser.conftest import wait_for
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _report(app, org_id: int, user_id: int, title: str) -> int:
    with app.app_context():
        org, user = db.session.get(Organization, org_id), db.session.get(User, user_id)
        data = IncidentCreateSchema().load({
            "title": title, "classification": "fraud/phishing", "severity": "medium", "tlp": "green",
            "detected_at": (utcnow() - timedelta(hours=1)).isoformat(),
            "observables": [{"type": "url", "value": "https://login-bank.example.org/"}]})
        incident, _ = intake.report_incident(db.session, org=org, data=data, actor=actor_for_user(user),
                                             source="api")
        return incident.id


def test_wrong_password_then_sign_in_list_phase_update_and_sign_out(
        app, factory, live_server, browser, sign_in, screenshot):
    factory.cert()
    bank = factory.org("First Bank")
    other = factory.org("Second Bank")
    analyst = factory.user(bank, "analyst", email="soc@firstbank.example")
    rival = factory.user(other, "analyst", email="soc@secondbank.example")
    own_id = _report(app, bank.id, analyst.id, "Phishing wave against our customers")
    _report(app, other.id, rival.id, "Second Bank internal matter")

    browser.get(live_server.url + "/incidents")  # not signed in: sent to the sign-in page
    wait_for(browser, EC.presence_of_element_located((By.ID, "email")))
    assert "/login?next=" in browser.current_url
    browser.find_element(By.ID, "email").send_keys(analyst.email)
    browser.find_element(By.ID, "password").send_keys("not my password")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    alert = wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".alert-error")))
    assert "Wrong e-mail address or password." in alert.text
    assert browser.find_element(By.ID, "email").get_attribute("value") == analyst.email
    assert browser.find_element(By.ID, "password").get_attribute("value") == ""
    screenshot("1-login-error")

    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "table.data")))
    assert browser.current_url.endswith("/incidents")  # back where the analyst wanted to go
    listing = browser.find_element(By.ID, "main").text
    assert "Phishing wave against our customers" in listing and "Second Bank internal matter" not in listing
    screenshot("2-list")

    browser.find_element(By.LINK_TEXT, "Phishing wave against our customers").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "summary")))
    Select(browser.find_element(By.ID, "phase")).select_by_value("intermediate")  # a bank: DORA
    browser.find_element(By.ID, "summary").send_keys("Look-alike domain taken down by the registrar.")
    browser.find_element(By.CSS_SELECTOR, ".update-form button[type=submit]").click()
    wait_for(browser, EC.text_to_be_present_in_element((By.ID, "timeline"), "Look-alike domain taken down"))
    assert browser.current_url.endswith(f"/incidents/{own_id}#timeline")
    assert "Intermediate report" in browser.find_element(By.ID, "timeline").text
    screenshot("3-detail-with-phase")

    browser.find_element(By.LINK_TEXT, "Home").click()
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".page-head")))
    assert "Phishing wave against our customers" in browser.find_element(By.ID, "main").text
    screenshot("4-home")

    browser.find_element(By.CSS_SELECTOR, ".account button[type=submit]").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "email")))
    assert "You are signed out." in browser.find_element(By.ID, "main").text
    browser.get(live_server.url + f"/incidents/{own_id}")
    wait_for(browser, EC.presence_of_element_located((By.ID, "email")))
    assert "/login" in browser.current_url


def test_change_password_then_sign_out_and_a_copied_cookie_is_dead(app, factory, live_server, browser, sign_in,
                                                                   screenshot):
    import requests

    bank = factory.org("First Bank")
    analyst = factory.user(bank, "analyst", email="soc@firstbank.example")
    sign_in(live_server, analyst.email)
    browser.get(live_server.url + "/account/security")
    browser.find_element(By.ID, "change-password").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "password-form")))
    browser.find_element(By.ID, "current_password").send_keys(PASSWORD)
    browser.find_element(By.ID, "new_password").send_keys("a brand new passphrase")
    browser.find_element(By.ID, "confirm_password").send_keys("a brand new passphrase")
    screenshot("5-password-change")
    browser.find_element(By.CSS_SELECTOR, "#password-form button[type=submit]").click()
    wait_for(browser, EC.text_to_be_present_in_element((By.ID, "main"), "Your password is changed"))

    # The same cookie, sent by another program from the same machine and browser identity, works ...
    copied = {"session": browser.get_cookie("session")["value"]}
    agent = {"User-Agent": browser.execute_script("return navigator.userAgent")}
    assert requests.get(live_server.url + "/incidents", cookies=copied, headers=agent,
                        allow_redirects=False, timeout=10).status_code == 200
    # ... until the person signs out: the session ends on the server, not only in the browser.
    browser.find_element(By.CSS_SELECTOR, ".account button[type=submit]").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "email")))
    assert requests.get(live_server.url + "/incidents", cookies=copied, headers=agent,
                        allow_redirects=False, timeout=10).status_code == 302
