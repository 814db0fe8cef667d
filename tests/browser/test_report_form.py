"""In a real browser: can a bank's SOC analyst report an incident, fix a typo the form points
out, and see what the platform recognised?"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from cert_share.extensions import db
from cert_share.models import Incident
from tests.browser.conftest import type_datetime_local, wait_for

pytestmark = pytest.mark.browser

OBSERVABLES_WITH_TYPO = "\n".join([
    "203.0.113.7",
    "999.1.1.1",
    "evil-update[.]example.net",
    "hxxps://evil-update.example.net/payload.exe",
    "44d88612fea8a8f36de82e1278abb02f",
    "AS64500",
])
FIXED = OBSERVABLES_WITH_TYPO.replace("999.1.1.1", "198.51.100.23")


def _checked(browser, select_id: str) -> set[str]:
    # One CSS query instead of Select.all_selected_options' round trip per <option>.
    return {o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, f"#{select_id} option:checked")}


@pytest.mark.parametrize("browser", [{"javascript": False}], indirect=True, ids=["no-js"])
def test_analyst_reports_incident_fixes_bad_line_and_sees_recognised_types(
        app, factory, live_server, browser, sign_in, screenshot):
    factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    analyst = factory.user(bank, "analyst", email="soc@firstbank.example")
    sign_in(live_server, analyst.email)

    browser.find_element(By.LINK_TEXT, "Report an incident").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "title")))
    # The page works with JavaScript off: <noscript> content would render, scripts do not run.
    assert browser.execute_script("return document.querySelectorAll('script').length") == 0
    riga_now = datetime.now(ZoneInfo("Europe/Riga")).replace(second=0, microsecond=0, tzinfo=None)
    detected_dt, started_dt = riga_now - timedelta(hours=2), riga_now - timedelta(hours=6)
    detected = detected_dt.strftime("%Y-%m-%dT%H:%M")

    browser.find_element(By.ID, "title").send_keys("Emotet beaconing from teller workstations")
    browser.find_element(By.ID, "description").send_keys("Three workstations beacon to a known C2.")
    Select(browser.find_element(By.ID, "classification")).select_by_value("malicious-code/infected-system")
    Select(browser.find_element(By.ID, "severity")).select_by_value("high")
    browser.find_element(By.CSS_SELECTOR, "label[for='tlp-3']").click()  # TLP:AMBER+STRICT
    Select(browser.find_element(By.ID, "timezone")).select_by_value("Europe/Riga")
    type_datetime_local(browser.find_element(By.ID, "detected_at"), detected_dt)
    type_datetime_local(browser.find_element(By.ID, "started_at"), started_dt)
    assert browser.find_element(By.ID, "detected_at").get_attribute("value") == detected
    browser.find_element(By.ID, "affected_services").send_keys("Branch banking")
    countries = Select(browser.find_element(By.ID, "cross_border"))
    countries.select_by_value("LV")
    countries.select_by_value("FI")
    browser.find_element(By.ID, "personal_data").click()
    browser.find_element(By.ID, "observables").send_keys(OBSERVABLES_WITH_TYPO)
    screenshot("1-filled")
    browser.find_element(By.CSS_SELECTOR, ".report-form button[type=submit]").click()

    # The bad line is named next to the field; everything typed is still there.
    errors = wait_for(browser, EC.presence_of_element_located((By.ID, "observables-errors")))
    assert "line 2" in errors.text and "999.1.1.1" in errors.text
    assert "not a valid IPv4 address" in errors.text
    assert browser.find_element(By.ID, "observables").get_attribute("value") == OBSERVABLES_WITH_TYPO
    assert browser.find_element(By.ID, "title").get_attribute("value") == "Emotet beaconing from teller workstations"
    assert _checked(browser, "classification") == {"malicious-code/infected-system"}
    assert browser.find_element(By.ID, "tlp-3").is_selected()
    assert browser.find_element(By.ID, "detected_at").get_attribute("value") == detected
    assert _checked(browser, "cross_border") == {"LV", "FI"}
    assert _checked(browser, "timezone") == {"Europe/Riga"}
    assert browser.find_element(By.ID, "personal_data").is_selected()
    screenshot("2-error")
    with app.app_context():
        assert db.session.query(Incident).count() == 0

    observables = browser.find_element(By.ID, "observables")
    observables.clear()
    observables.send_keys(FIXED)
    browser.find_element(By.CSS_SELECTOR, ".report-form button[type=submit]").click()

    heading = wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "#observables")))
    assert heading is not None
    assert browser.find_element(By.TAG_NAME, "h1").text == "Emotet beaconing from teller workstations"
    types = [e.get_attribute("data-type") for e in browser.find_elements(By.CSS_SELECTOR, "#observables .obs-type")]
    assert types == ["ipv4-addr", "ipv4-addr", "domain-name", "url", "file:md5", "autonomous-system"]
    page = browser.find_element(By.ID, "main").text
    assert "evil-update.example.net" in page and "https://evil-update.example.net/payload.exe" in page
    assert "TLP:AMBER+STRICT" in page
    screenshot("3-report")

    with app.app_context():
        incident = db.session.query(Incident).one()
        assert incident.source == "web"
        assert incident.tlp == "amber+strict"
        assert incident.cross_border == ["FI", "LV"]
        assert incident.personal_data is True and incident.share_reporter is False
        # Riga wall-clock time became the right UTC instant.
        expected = datetime.fromisoformat(detected).replace(tzinfo=ZoneInfo("Europe/Riga"))
        assert incident.detected_at == expected
        assert browser.current_url.endswith(f"/incidents/{incident.id}")
