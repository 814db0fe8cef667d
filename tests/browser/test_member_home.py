"""A member's analyst in a real browser: the home page lists the reporting phases the
organization owes, overdue first; the overdue link leads to those reports; filing the phase from
the report page takes it off the home page. Another organization's deadlines never show."""
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
from tests.browser.conftest import leave_page, wait_for
from tests.integration.incident_bodies import incident_body

pytestmark = pytest.mark.browser


def _report(app, org, user, title: str, hours_ago: float) -> int:
    with app.app_context():
        data = IncidentCreateSchema().load(
            incident_body(title=title, detected_at=(utcnow() - timedelta(hours=hours_ago)).isoformat()))
        incident, _ = intake.report_incident(db.session, org=db.session.get(Organization, org.id), data=data,
                                             actor=actor_for_user(db.session.get(User, user.id)), source="api")
        return incident.id


def _rows(browser) -> list:
    return browser.find_elements(By.CSS_SELECTOR, "#deadline-list tbody tr")


def test_the_home_page_puts_overdue_phases_first_and_filing_one_clears_it(
        app, factory, live_server, browser, sign_in, screenshot):
    factory.cert()
    telco = factory.org("TelcoNet", sector="telecommunications")  # NIS2: notification within 72 h
    other = factory.org("Second Telco", sector="telecommunications")
    analyst = factory.user(telco, "analyst", email="soc@telconet.example")
    rival = factory.user(other, "analyst", email="soc@secondtelco.example")
    fresh = _report(app, telco, analyst, "Fresh DDoS on resolvers", 1)
    late = _report(app, telco, analyst, "Old phishing wave", 80)
    _report(app, other, rival, "Second Telco overdue matter", 90)

    sign_in(live_server, analyst.email)
    browser.get(live_server.url + "/")
    wait_for(browser, EC.presence_of_element_located((By.ID, "deadline-list")))
    rows = _rows(browser)
    first, second = rows[0], rows[1]
    assert "is-overdue" in first.get_attribute("class")
    assert "Incident notification" in first.text and f"#{late} Old phishing wave" in first.text
    assert "overdue" in first.find_element(By.CSS_SELECTOR, "td.overdue").text
    assert "is-due" in second.get_attribute("class")
    assert "Incident notification" in second.text and f"#{fresh} Fresh DDoS" in second.text
    assert len(rows) == 4 and all("Final report" in r.text for r in rows[2:])  # a month after each notification
    assert "Second Telco" not in browser.find_element(By.ID, "deadlines").text
    screenshot("1-home-deadlines")

    # The overdue count leads to the reports that have an overdue phase, and to nothing else.
    browser.find_element(By.LINK_TEXT, "1 overdue →").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "report-filters")))
    listing = browser.find_element(By.ID, "reports").text
    assert "Old phishing wave" in listing and "Fresh DDoS" not in listing
    assert "Incident notification overdue" in listing
    assert browser.find_element(By.CSS_SELECTOR, "#report-filters input[name=overdue]").is_selected()
    screenshot("2-overdue-reports")

    # File the notification from the report page: the choice says it is overdue.
    browser.find_element(By.LINK_TEXT, "Old phishing wave").click()
    phase = Select(wait_for(browser, EC.presence_of_element_located((By.ID, "phase"))))
    assert [o.get_attribute("value") for o in phase.options] == ["", "notification", "intermediate", "final-report"]
    assert "overdue since" in next(o.text for o in phase.options if o.get_attribute("value") == "notification")
    phase.select_by_value("notification")
    browser.find_element(By.ID, "summary").send_keys("Scope known; phishing site taken down.")
    leave_page(browser, browser.find_element(By.CSS_SELECTOR, ".update-form button[type=submit]").click)
    wait_for(browser, EC.text_to_be_present_in_element((By.ID, "timeline"), "Scope known"))

    browser.find_element(By.LINK_TEXT, "Home").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "deadline-list")))
    rows = _rows(browser)
    assert not any("is-overdue" in r.get_attribute("class") for r in rows)
    assert not browser.find_elements(By.LINK_TEXT, "1 overdue →")
    assert "Incident notification" in rows[0].text and "Fresh DDoS" in rows[0].text
    assert not any("Old phishing wave" in r.text and "Incident notification" in r.text for r in rows)
    screenshot("3-home-after-filing")
